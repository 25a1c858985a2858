"""The invoke bar: call the cart's handlers with a click, without ever blocking the kernel.

A request-response call to a failing handler hangs while Restate retries it, so every click
*sends* the invocation (a few ms) and a worker thread polls its status until it completes,
showing "running", "backing-off (attempt 3): ValueError: ..." on the way.
"""

from __future__ import annotations

import html
import json
import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from tourlab._tracing import failure_summary
from tourlab.panels._base import ACTIVE, IDLE, LabView, PanelBase, set_if_changed

if TYPE_CHECKING:
    from tourlab._client import Invocation
    from tourlab._lab import Lab

#: How long the bar follows one invocation before handing over to the Invocations panel.
FOLLOW_SECONDS = 120.0

#: Button label -> (handler, takes the seat as argument)
HANDLERS = {"addTicket": True, "checkout": False, "expireTicket": True}


class InvokeBar(PanelBase):
    """User and seat inputs, one button per cart handler, and the response of the last click."""

    title = "Invoke"
    description = "call CartObject handlers (addTicket, checkout, expireTicket)"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.user = widgets.Text(value=self.view.user, description="user", layout={"width": "180px"})
        self.seat = widgets.Text(value="seat2B", description="seat", layout={"width": "180px"})
        self.idempotency_key = widgets.Text(
            value="", description="idem. key", placeholder="optional", layout={"width": "220px"}
        )
        self.delay = widgets.BoundedFloatText(
            value=0, min=0, max=24 * 3600, description="delay s", layout={"width": "150px"}
        )
        self.buttons = {name: widgets.Button(description=name) for name in HANDLERS}
        for name, button in self.buttons.items():
            button.on_click(self.guarded(lambda _b, handler=name: self.invoke(handler)))
        self.response = widgets.HTML("")
        self.status = widgets.HTML("")
        self.result: Any = None
        self.result_error: str | None = None
        self.invocation_id: str | None = None
        self.final_status: str | None = None
        self._worker: threading.Thread | None = None
        self._generation = 0
        self.user.observe(self._user_changed, "value")
        self._compose(
            widgets.HBox([self.user, self.seat, self.idempotency_key, self.delay]),
            widgets.HBox(list(self.buttons.values())),
            self.response,
            self.status,
        )

    def _user_changed(self, change: dict[str, Any]) -> None:
        self.view.user = change["new"].strip()
        self.view.refresher.poke()

    def _render(self) -> int:
        return ACTIVE if self._worker is not None and self._worker.is_alive() else IDLE

    # -- clicking ----------------------------------------------------------------------------

    def invoke(self, handler: str) -> str:
        """Send `handler` for the current user (and seat); returns the invocation id."""
        user = self.user.value.strip()
        seat = self.seat.value.strip()
        if not user:
            raise ValueError("Enter a user: the cart key, e.g. Mary.")
        takes_seat = HANDLERS[handler]
        if takes_seat and not seat:
            raise ValueError(f"{handler} needs a seat, e.g. seat2B.")
        self.show_error(None)
        self._generation += 1
        generation = self._generation
        arg = seat if takes_seat else None
        delay = float(self.delay.value or 0) or None
        key = self.idempotency_key.value.strip() or None
        kwargs: dict[str, Any] = {"delay": delay, "idempotency_key": key}
        if takes_seat:
            invocation_id = self.lab.client.send("CartObject", user, handler, arg, **kwargs)
        else:
            invocation_id = self.lab.client.send("CartObject", user, handler, **kwargs)
        self.invocation_id = invocation_id
        self.result = None
        self.result_error = None
        self.final_status = None
        shown_arg = f"({json.dumps(arg)})" if takes_seat else "()"
        self._call_text = f"CartObject/{html.escape(user)}/{handler}{html.escape(shown_arg)}"
        self.response.value = f"{self._call_text} &rarr; <i>sent</i> &middot; <code>{invocation_id}</code>"
        self.view.user = user
        if takes_seat:
            self.view.add_seat(seat)
        self.view.select(invocation_id)
        self._worker = threading.Thread(
            target=self._follow, args=(invocation_id, generation), name="tourlab-invoke", daemon=True
        )
        self._worker.start()
        return invocation_id

    def wait(self, timeout: float = 30.0) -> str | None:
        """Wait for the last click's invocation to finish (or the bar to stop following it)."""
        if self._worker is not None:
            self._worker.join(timeout)
        return self.final_status

    # -- following an invocation ---------------------------------------------------------

    def _follow(self, invocation_id: str, generation: int) -> None:
        try:
            self._follow_until_done(invocation_id, generation)
        except Exception as error:  # noqa: BLE001 - shown in the panel
            self.show_error(error)
        finally:
            # Refresh the other panels before wait() returns, then let the live loop carry on.
            self.view.refresher.refresh_now()
            self.view.refresher.poke()

    def _follow_until_done(self, invocation_id: str, generation: int) -> None:
        client = self.lab.client
        deadline = time.monotonic() + FOLLOW_SECONDS
        pause = 0.02
        last_shown = None
        while generation == self._generation:
            invocation = client.invocation(invocation_id)
            status = invocation.status if invocation else "pending"
            shown = _status_text(invocation)
            if shown != last_shown:
                set_if_changed(self.status, shown)
                last_shown = shown
                self.view.refresher.poke()
            if status == "completed":
                self._show_result(invocation_id, invocation)
                self.final_status = status
                return
            if status in {"scheduled", "paused"} or time.monotonic() > deadline:
                self.final_status = status
                hint = " &middot; see Timers" if status == "scheduled" else " &middot; see Invocations"
                set_if_changed(self.status, shown + hint)
                return
            time.sleep(pause)
            pause = min(pause * 1.5, 0.5)

    def _show_result(self, invocation_id: str, invocation: Invocation | None) -> None:
        response = self.lab.client.http.get(f"{self.lab.ingress_url}/restate/invocation/{invocation_id}/output")
        if response.is_success:
            self.result = response.json() if response.content else None
            text = html.escape(json.dumps(self.result))
            self.response.value = f"{self._call_text} &rarr; <b>{text}</b> &middot; <code>{invocation_id}</code>"
        else:
            failure = (invocation.completion_failure if invocation else None) or _message(response)
            self.result_error = failure
            self.response.value = (
                f"{self._call_text} &rarr; <b style='color:#dc2626'>error</b>: {html.escape(failure)}"
                f" &middot; <code>{invocation_id}</code>"
            )


def _status_text(invocation: Invocation | None) -> str:
    if invocation is None:
        return "status: <i>pending</i>"
    text = f"status: <b>{html.escape(invocation.status)}</b>"
    if invocation.retry_count > 1 or invocation.last_failure:
        text += f" (retry count {invocation.retry_count})"
    if invocation.last_failure and invocation.status != "completed":
        text += f": <span style='color:#dc2626'>{html.escape(failure_summary(invocation.last_failure))}</span>"
    return text


def _message(response: Any) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return str(response.text).strip()
