"""Complete by hand what the selected invocation waits for: an awakeable, or a workflow's promise."""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as widgets

from tourlab import Lab, LabError
from tourlab.panels._base import IDLE, LabView, PanelBase, Round, esc, set_if_changed


class EventsPanel(PanelBase):
    """The outside world, by hand: resolve or reject an awakeable; call a workflow's shared handler.

    An awakeable is completed through Restate's ingress (what a payment provider's callback
    does). A workflow's durable promise is completed by one of its shared handlers (for the
    course's checkout: ``confirmPayment``), so the panel calls that handler.
    """

    title = "Outside events"
    description = "resolve or reject an awakeable, complete a workflow's promise through its handler"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.waits = widgets.HTML("<i>Select an invocation that waits for an awakeable or a promise.</i>")
        self.awakeable = widgets.Text(description="awakeable", placeholder="sign_…", layout={"width": "420px"})
        self.value = widgets.Text(value="true", description="value", layout={"width": "300px"})
        self.resolve = widgets.Button(description="resolve", button_style="success")
        self.reject = widgets.Button(description="reject", button_style="warning")
        self.handler = widgets.Dropdown(options=[], description="handler", layout={"width": "300px"})
        self.argument = widgets.Text(value="{}", description="argument", layout={"width": "420px"})
        self.call = widgets.Button(description="call")
        self.message = widgets.HTML("")
        self.resolve.on_click(self.guarded(lambda _b: self.complete_awakeable(resolve=True)))
        self.reject.on_click(self.guarded(lambda _b: self.complete_awakeable(resolve=False)))
        self.call.on_click(self.guarded(lambda _b: self.call_handler()))
        self._workflow: tuple[str, str] | None = None
        self._compose(
            self.waits,
            widgets.HBox([self.awakeable, self.value, self.resolve, self.reject], layout={"flex_flow": "row wrap"}),
            widgets.HBox([self.handler, self.argument, self.call], layout={"flex_flow": "row wrap"}),
            self.message,
        )

    def _render(self, current: Round) -> int:
        invocation_id = self.view.invocation_id
        invocation = current.invocation(invocation_id) if invocation_id else None
        if invocation is None:
            return IDLE
        entries = current.journal(invocation.id)
        waits = current.waiting_for(invocation)
        set_if_changed(
            self.waits,
            f"<code>{esc(invocation.target)}</code> waits for: <b>{esc(waits)}</b>" if waits else
            f"<code>{esc(invocation.target)}</code> waits for nothing from outside.",
        )  # fmt: skip
        awakeables = [e.value for e in entries if isinstance(e.value, str) and e.value.startswith("sign_")]
        if awakeables and not self.awakeable.value:
            self.awakeable.value = awakeables[-1]
        service, key, _handler = [*invocation.target.split("/"), "", ""][:3]
        shared = [name for name in self.lab.services.get(service, []) if name != "run"]
        self._workflow = (service, key) if any(e.kind == "GetPromise" for e in entries) and shared else None
        options = shared if self._workflow else []
        if list(self.handler.options) != options:
            self.handler.options = options
        return IDLE

    def complete_awakeable(self, *, resolve: bool) -> None:
        """Resolve the awakeable with the value (JSON) or reject it with the value as the reason."""
        awakeable_id = self.awakeable.value.strip()
        if not awakeable_id:
            raise LabError("Enter the awakeable's id (sign_…): the handler created it with ctx.awakeable().")
        if resolve:
            self.lab.resolve_awakeable(awakeable_id, _json(self.value.value, "value"))
            self.message.value = f"resolved <code>{esc(awakeable_id)}</code>: the waiting handler goes on"
        else:
            self.lab.reject_awakeable(awakeable_id, self.value.value.strip() or "rejected by hand")
            self.message.value = f"rejected <code>{esc(awakeable_id)}</code>: the waiting handler gets a TerminalError"
        self.view.refresher.refresh_now()
        self.view.refresher.poke()

    def call_handler(self) -> None:
        """Call the chosen shared handler of the selected workflow with the argument (JSON)."""
        if self._workflow is None or not self.handler.value:
            raise LabError("Select a workflow invocation that waits for a promise (ctx.promise(...).value()).")
        workflow, key = self._workflow
        answer = self.lab.call(workflow, key, self.handler.value, _json(self.argument.value, "argument"))
        self.message.value = f"{esc(workflow)}/{esc(key)}/{esc(self.handler.value)} &rarr; {esc(json.dumps(answer))}"
        self.view.refresher.refresh_now()
        self.view.refresher.poke()


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise LabError(f'The {what} must be JSON, e.g. true, 42, "text" or {{"amount": 40}}.') from None
