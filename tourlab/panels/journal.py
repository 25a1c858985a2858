"""The journal of the selected invocation: what Restate recorded, step by step."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from tourlab import Invocation, JournalEntry, Lab
from tourlab.panels._base import ACTIVE, IDLE, LabView, PanelBase
from tourlab.panels._format import esc, set_if_changed, table
from tourlab.panels._round import Round


class JournalPanel(PanelBase):
    """Index, entry type, name, call target and completion of each journal entry.

    Calls to other handlers get a button that opens the callee's journal; a child's journal
    has a button back to its caller.
    """

    title = "Journal"
    description = "journal of the selected invocation"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.heading = widgets.HTML("")
        self.table = widgets.HTML("<i>Select an invocation (make a call).</i>")
        self.links = widgets.HBox([], layout={"flex_flow": "row wrap"})
        self.entries: list[JournalEntry] = []
        self.invocation: Invocation | None = None
        self._link_key: tuple[Any, ...] = ()
        self._buttons: list[widgets.Button] = []
        self._targets: dict[str, str | None] = {}
        self._compose(self.heading, self.table, self.links)

    def _render(self, current: Round) -> int:
        invocation_id = self.view.invocation_id
        if invocation_id is None:
            return IDLE
        self.invocation = invocation = current.invocation(invocation_id)
        self.entries = current.journal(invocation_id)
        status = invocation.status if invocation else "unknown"
        target = invocation.target if invocation else invocation_id
        set_if_changed(
            self.heading,
            f"<code>{esc(target)}</code> &middot; {esc(status)} &middot; <code>{esc(invocation_id)}</code>",
        )
        finished = invocation is not None and not invocation.active
        rows = [
            [str(entry.index), esc(entry.entry_type), esc(entry.summary), _completed(entry, finished)]
            for entry in self.entries
        ]
        body = (
            table(["#", "entry", "what", "completed"], rows)
            if rows
            else "<i>No journal entries (yet): a scheduled invocation has none until it starts.</i>"
        )
        set_if_changed(self.table, body)
        self._update_links()
        return ACTIVE if invocation is not None and invocation.active else IDLE

    def _update_links(self) -> None:
        caller = self.invocation.invoked_by_id if self.invocation else None
        links = [("caller", "arrow-up", caller)] if caller else []
        links += [(f"#{e.index} {e.target}", "arrow-right", e.callee_id) for e in self.entries if e.callee_id]
        key = tuple(links)
        if key == self._link_key:
            return
        self._link_key = key
        # Buttons are reused: making widgets costs more than a refresh round's reads.
        while len(self._buttons) < len(links):
            button = widgets.Button(layout={"width": "auto"})
            button.on_click(self.guarded(lambda b: self.view.select(self._targets[b.model_id])))
            self._buttons.append(button)
        for button, (label, icon, target) in zip(self._buttons, links, strict=False):
            button.description, button.icon, button.tooltip = label, icon, target
            self._targets[button.model_id] = target
        self.links.children = tuple(self._buttons[: len(links)])


def _completed(entry: JournalEntry, finished: bool) -> str:
    if entry.completed is None:
        return ""
    if entry.completed:
        return "&#10003;"
    # A finished invocation that never got this result did not need it (the other branch of a select won).
    return "not needed" if finished else "<b>waiting</b>"
