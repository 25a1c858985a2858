"""Complete by hand what the selected invocation waits for: an awakeable, or a workflow's promise."""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as widgets

from tourlab import Lab, LabError
from tourlab.panels._base import IDLE, LabView, PanelBase
from tourlab.panels._format import esc, set_if_changed
from tourlab.panels._round import Round

#: The workflow's shared handler that rejects its ``payment`` promise, called with the reason (a string).
REJECT_PAYMENT_HANDLER = "rejectPayment"

_ROW = {"flex_flow": "row wrap", "align_items": "center", "width": "100%"}
_LABEL = {"description_width": "initial"}


class EventsPanel(PanelBase):
    """The outside world, by hand: resolve or reject an awakeable; call a workflow's shared handler.

    An awakeable is completed through Restate's ingress (what a payment provider's callback
    does). A workflow's durable promise is completed by one of its shared handlers (for the
    course's checkout: ``confirmPayment``, and ``rejectPayment`` for a refused payment), so the
    panel calls that handler. Both follow the selected invocation: its awakeable id fills the
    field, its workflow key is the one called.
    """

    title = "Outside events"
    description = "resolve or reject an awakeable, complete a workflow's promise through its handler"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.waits = widgets.HTML("<i>Select an invocation that waits for an awakeable or a promise.</i>")
        self.awakeable = widgets.Text(
            description="awakeable", placeholder="sign_…", style=_LABEL, layout={"flex": "1 1 320px", "min_width": "0"}
        )
        self.value = widgets.Text(value="true", description="value / reason", style=_LABEL, layout={"width": "230px"})
        self.resolve = _button("resolve", "success")
        self.reject = _button("reject", "warning")
        self.handler = widgets.Dropdown(options=[], description="handler", style=_LABEL, layout={"width": "230px"})
        self.argument = widgets.Text(
            value="{}", description="argument", style=_LABEL, layout={"flex": "1 1 240px", "min_width": "0"}
        )
        self.call = _button("call", "")
        self.reason = widgets.Text(
            value="card declined", description="reason", style=_LABEL, layout={"flex": "1 1 200px", "min_width": "0"}
        )
        self.reject_payment = _button("reject payment", "warning")
        self.message = widgets.HTML("")
        self.resolve.on_click(self.guarded(lambda _b: self.complete_awakeable(resolve=True)))
        self.reject.on_click(self.guarded(lambda _b: self.complete_awakeable(resolve=False)))
        self.call.on_click(self.guarded(lambda _b: self.call_handler()))
        self.reject_payment.on_click(self.guarded(lambda _b: self.reject_the_payment()))
        self._workflow: tuple[str, str] | None = None
        self._filled_for: str | None = None  # the invocation whose awakeable the field shows
        self._compose(
            self.waits,
            widgets.HBox([self.awakeable, self.value, self.resolve, self.reject], layout=_ROW),
            widgets.HBox([self.handler, self.argument, self.call], layout=_ROW),
            widgets.HBox([self.reason, self.reject_payment], layout=_ROW),
            self.message,
        )

    def _render(self, current: Round) -> int:
        invocation_id = self.view.invocation_id
        invocation = current.invocation(invocation_id) if invocation_id else None
        if invocation is None:
            self._follow_awakeable(None, [])
            self._workflow = None
            self._offer([], has_reject=False)
            return IDLE
        entries = current.journal(invocation.id)
        waits = current.waiting_for(invocation)
        set_if_changed(
            self.waits,
            f"<code>{esc(invocation.target)}</code> waits for: <b>{esc(waits)}</b>" if waits else
            f"<code>{esc(invocation.target)}</code> waits for nothing from outside.",
        )  # fmt: skip
        awakeables = [e.value for e in entries if isinstance(e.value, str) and e.value.startswith("sign_")]
        self._follow_awakeable(invocation.id, awakeables)
        service, key, _handler = [*invocation.target.split("/"), "", ""][:3]
        shared = [name for name in self.lab.services.get(service, []) if name != "run"]
        waits_for_promise = any(e.kind == "GetPromise" for e in entries) and bool(shared)
        self._workflow = (service, key) if waits_for_promise else None
        self._offer(shared if self._workflow else [], has_reject=REJECT_PAYMENT_HANDLER in shared)
        return IDLE

    def _follow_awakeable(self, invocation_id: str | None, awakeables: list[str]) -> None:
        """The field shows the selected invocation's awakeable; what was typed stays while the selection does."""
        if invocation_id != self._filled_for:
            self._filled_for = invocation_id
            set_if_changed(self.awakeable, awakeables[-1] if awakeables else "")
        elif awakeables and not self.awakeable.value:
            self.awakeable.value = awakeables[-1]

    def _offer(self, handlers: list[str], *, has_reject: bool) -> None:
        if list(self.handler.options) != handlers:
            self.handler.options = handlers
        set_if_changed(self.reject_payment, not (self._workflow and has_reject), "disabled")
        if self._workflow and not has_reject:
            tip = f"{self._workflow[0]} has no {REJECT_PAYMENT_HANDLER} handler"
        else:
            tip = f"call {REJECT_PAYMENT_HANDLER}(reason): the workflow's payment promise fails with the reason"
        set_if_changed(self.reject_payment, tip, "tooltip")

    def complete_awakeable(self, *, resolve: bool) -> None:
        """Resolve the awakeable with the value (JSON) or reject it with the value as the reason."""
        awakeable_id = self.awakeable.value.strip()
        if not awakeable_id:
            raise LabError("Enter the awakeable's id (sign_…): the handler created it with ctx.awakeable().")
        with self.view.refresher.click():
            if resolve:
                self.lab.resolve_awakeable(awakeable_id, _json(self.value.value, "value"))
                self.message.value = f"resolved <code>{esc(awakeable_id)}</code>: the waiting handler goes on"
            else:
                self.lab.reject_awakeable(awakeable_id, self.value.value.strip() or "rejected by hand")
                self.message.value = (
                    f"rejected <code>{esc(awakeable_id)}</code>: the waiting handler gets a TerminalError"
                )

    def call_handler(self) -> None:
        """Call the chosen shared handler of the selected workflow with the argument (JSON)."""
        if self._workflow is None or not self.handler.value:
            raise LabError("Select a workflow invocation that waits for a promise (ctx.promise(...).value()).")
        self._call(self._workflow, self.handler.value, _json(self.argument.value, "argument"))

    def reject_the_payment(self) -> None:
        """Call the selected workflow's ``rejectPayment`` with the reason: its payment promise fails."""
        if self._workflow is None:
            raise LabError("Select a workflow invocation that waits for its payment (ctx.promise('payment')).")
        if REJECT_PAYMENT_HANDLER not in self.lab.services.get(self._workflow[0], []):
            raise LabError(
                f"{self._workflow[0]} has no {REJECT_PAYMENT_HANDLER} handler: add a shared handler that rejects "
                "the payment promise (ctx.promise('payment').reject(reason)), then reload."
            )
        self._call(self._workflow, REJECT_PAYMENT_HANDLER, self.reason.value.strip() or "rejected by hand")

    def _call(self, workflow_key: tuple[str, str], handler: str, argument: Any) -> None:
        workflow, key = workflow_key
        with self.view.refresher.click():
            answer = self.lab.call(workflow, key, handler, argument)
            self.message.value = f"{esc(workflow)}/{esc(key)}/{esc(handler)} &rarr; {esc(json.dumps(answer))}"


def _button(name: str, style: str) -> widgets.Button:
    return widgets.Button(description=name, button_style=style, layout={"width": "auto", "flex": "0 0 auto"})


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise LabError(f'The {what} must be JSON, e.g. true, 42, "text" or {{"amount": 40}}.') from None
