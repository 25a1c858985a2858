"""Fault injection: take the endpoint down, bring it back, restart Restate itself."""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from tourlab import Lab, LabError
from tourlab.panels._base import IDLE, LabView, PanelBase
from tourlab.panels._format import esc, set_if_changed
from tourlab.panels._round import Round

#: What each fault does, and what to look for in the other panels.
NOTES = {
    "stop endpoint": (
        "Endpoint stopped. Click addTicket: the invocation turns backing-off with a connection error "
        "and the attempts count up in Invocations. Start the endpoint and it completes on the next retry."
    ),
    "start endpoint": (
        "Endpoint back on the same port. Waiting invocations complete at their next retry "
        "(press resume in Invocations to retry right now)."
    ),
    "restart server": (
        "Restate restarted from its data directory. Look at State and Timers: the cart, the ticket "
        "status and the pending expireTicket timer are all still there."
    ),
}


class FaultsPanel(PanelBase):
    """Buttons that break things on purpose, each with a note on what to watch."""

    title = "Fault injection"
    description = "stop/start the endpoint, restart the Restate server"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.buttons = {name: widgets.Button(description=name) for name in NOTES}
        self.buttons["stop endpoint"].button_style = "warning"
        self.buttons["restart server"].button_style = "danger"
        for name, button in self.buttons.items():
            button.on_click(self.guarded(lambda _b, fault=name: self.inject(fault)))
        self.note = widgets.HTML("")
        self.state = widgets.HTML("")
        self._worker: threading.Thread | None = None
        self._compose(widgets.HBox(list(self.buttons.values())), self.state, self.note)

    def _render(self, current: Round) -> int:
        endpoint = "up" if self.lab.endpoint_running else "<b style='color:#dc2626'>down</b>"
        server = "up" if self.lab.restate_running else "<b style='color:#dc2626'>down</b>"
        set_if_changed(self.state, f"endpoint: {endpoint} &middot; Restate: {server}")
        return IDLE

    def inject(self, fault: str, *, wait: bool = False) -> None:
        """Run `fault` on a worker thread (a server restart takes a moment); `wait` blocks until done."""
        if fault not in NOTES:
            raise LabError(f"Unknown fault {fault!r}: one of {', '.join(NOTES)}.")
        if self._worker is not None and self._worker.is_alive():
            raise LabError("The previous fault is still being applied.")
        self.note.value = f"{esc(fault)}&hellip;"
        self._worker = threading.Thread(target=self._apply, args=(fault,), name="tourlab-fault", daemon=True)
        self._worker.start()
        if wait:
            self._worker.join(60)

    def _apply(self, fault: str) -> None:
        for button in self.buttons.values():
            button.disabled = True
        failure: Exception | None = None
        try:
            with self.view.refresher.click():  # one round once the fault is in place
                try:
                    {
                        "stop endpoint": self.lab.stop_endpoint,
                        "start endpoint": self.lab.start_endpoint,
                        "restart server": self.lab.restart_server,
                    }[fault]()
                    self.note.value = esc(NOTES[fault])
                except Exception as error:  # noqa: BLE001 - shown in the panel after the round
                    failure = error
                    self.note.value = ""
        finally:
            for button in self.buttons.values():
                button.disabled = False
        if failure is not None:
            self.show_error(failure)
