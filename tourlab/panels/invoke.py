"""The invoke bar: call the lab's handlers with a click, without ever blocking the kernel.

A request-response call to a failing handler hangs while Restate retries it, so every click
*sends* the invocation (a few ms) and a worker thread attaches to it until it completes,
showing "running", "backing-off (attempt 3): ValueError: ..." on the way.

The cart's handlers have buttons of their own (user and seat fields) when the lab serves a
``CartObject``; any other handler the lab serves (``OrderService/checkout`` in chapter 12) is
picked by name, with a key for objects and workflows and a JSON argument.
"""

from __future__ import annotations

import html
import json
import threading
from typing import Any

import ipywidgets as widgets

from tourlab import Followed, Invocation, InvocationError, InvocationTimeoutError, Lab, LabError, Stuck
from tourlab._client import NO_ARG
from tourlab.panels._base import ACTIVE, IDLE, LabView, PanelBase
from tourlab.panels._format import set_if_changed
from tourlab.panels._round import Round

#: How long the bar follows one invocation before handing over to the Invocations panel.
FOLLOW_SECONDS = 120.0
#: How long one attach waits before the bar shows the invocation's status again.
ATTACH_SECONDS = 0.3

#: Button label -> whether the handler takes the seat as its argument
HANDLERS = {"addTicket": True, "checkout": False, "expireTicket": True}
CART = "CartObject"

_AUTO = {"width": "auto", "flex": "0 0 auto"}


class InvokeBar(PanelBase):
    """User and seat inputs with one button per cart handler; any served handler by name; the last response."""

    title = "Invoke"
    description = "call the lab's handlers (the cart's buttons, or any served handler by name)"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.user = widgets.Text(value=self.view.user, description="user", layout={"width": "180px"})
        self.seat = widgets.Text(value=_free_seat(lab), description="seat", layout={"width": "180px"})
        self.idempotency_key = widgets.Text(
            value="", description="idem. key", placeholder="optional", layout={"width": "220px"}
        )
        self.delay = widgets.BoundedFloatText(
            value=0, min=0, max=24 * 3600, description="delay s", layout={"width": "150px"}
        )
        self.buttons = {name: widgets.Button(description=name) for name in HANDLERS}
        for name, button in self.buttons.items():
            button.on_click(self.guarded(lambda _b, handler=name: self.invoke(handler)))
        self.target = widgets.Dropdown(options=[], description="any handler", layout={"width": "320px"})
        self.key = widgets.Text(
            value="", description="key", placeholder="object or workflow key", layout={"width": "220px"}
        )
        self.argument = widgets.Text(
            value="", description="argument", placeholder='JSON, e.g. {"user_id": "Mary", "tickets": ["seat2B"]}',
            layout={"flex": "1 1 260px", "min_width": "0"},
        )  # fmt: skip
        self.send = widgets.Button(description="send", button_style="primary", layout=_AUTO)
        self.send.on_click(self.guarded(lambda _b: self.invoke_target()))
        self.cart_row = widgets.HBox(list(self.buttons.values()))
        self.response = widgets.HTML("")
        self.status = widgets.HTML("")
        self.result: Any = None
        self.result_error: str | None = None
        self.invocation_id: str | None = None
        self.final_status: str | None = None
        self._call_text = ""
        self._worker: threading.Thread | None = None
        self._generation = 0
        self._following = False
        self._seen: Invocation | None = None
        self._offered: tuple[Any, ...] | None = None
        self._keyed: dict[str, bool] = {}
        self.user.observe(self._user_changed, "value")
        self._compose(
            widgets.HBox([self.user, self.seat, self.idempotency_key, self.delay], layout={"flex_flow": "row wrap"}),
            self.cart_row,
            widgets.HBox([self.target, self.key, self.argument, self.send], layout={"flex_flow": "row wrap"}),
            self.response,
            self.status,
        )
        self._offer_services()

    def _user_changed(self, change: dict[str, Any]) -> None:
        self.view.user = change["new"].strip()
        self.view.seats = []  # the seats seen so far were the previous user's
        self.view.refresher.poke()

    def _render(self, current: Round) -> int:
        self._offer_services()
        if not self._following or self.invocation_id is None:
            return IDLE
        # The follower's rounds: the invocation's status comes with the round's reads.
        self._seen = current.invocation(self.invocation_id)
        set_if_changed(self.status, _status_text(self._seen))
        return ACTIVE

    def _offer_services(self) -> None:
        """Buttons for the cart's handlers the lab serves; every served handler in the picker."""
        services = self.lab.services
        offered = tuple((name, tuple(handlers)) for name, handlers in services.items())
        if offered == self._offered:
            return
        self._offered = offered
        cart = services.get(CART, [])
        for name, button in self.buttons.items():
            button.layout.display = None if name in cart else "none"
        self.cart_row.layout.display = None if any(name in cart for name in HANDLERS) else "none"
        self.seat.layout.display = None if cart else "none"
        targets = [f"{name}/{handler}" for name, handlers in services.items() for handler in handlers]
        chosen = self.target.value
        self.target.options = targets
        self.target.value = chosen if chosen in targets else next(iter(targets), None)
        kinds: dict[str, str] = {}
        if services:
            try:
                kinds = {row["name"]: row["ty"] for row in self.lab.query("SELECT name, ty FROM sys_service")}
            except Exception:  # noqa: BLE001 - then a key is sent when one is typed; Restate's answer says more
                kinds = {}
        self._keyed = {name: kinds[name] != "service" for name in services if name in kinds}

    # -- clicking ----------------------------------------------------------------------------

    def invoke(self, handler: str) -> str:
        """Send the cart's `handler` for the current user (and seat); returns the invocation id."""
        user = self.user.value.strip()
        seat = self.seat.value.strip()
        if not user:
            raise LabError("Enter a user: the cart key, e.g. Mary.")
        takes_seat = HANDLERS[handler]
        if takes_seat and not seat:
            raise LabError(f"{handler} needs a seat, e.g. seat2B.")
        if handler not in self.lab.services.get(CART, []):
            raise LabError(f"This lab serves no {CART}/{handler}: pick one of its handlers under the buttons.")
        self.view.user = user
        if takes_seat:
            self.view.add_seat(seat)
        return self._start(CART, user, handler, seat if takes_seat else NO_ARG)

    def invoke_target(self) -> str:
        """Send the handler picked by name, with the key and the JSON argument; returns the invocation id."""
        if not self.target.value:
            raise LabError("This lab serves no handlers yet: load or reload your code first.")
        service, handler = self.target.value.split("/", 1)
        key = self.key.value.strip() or None
        if self._keyed.get(service) and key is None:
            raise LabError(f"{service} is keyed: enter the key (the object's or the workflow's id).")
        if self._keyed.get(service) is False:
            key = None
        text = self.argument.value.strip()
        try:
            arg = json.loads(text) if text else NO_ARG
        except ValueError:
            raise LabError('The argument must be JSON, e.g. "seat2B" or {"user_id": "Mary"}.') from None
        return self._start(service, key, handler, arg)

    def _start(self, service: str, key: str | None, handler: str, arg: Any) -> str:
        self.show_error(None)
        self._generation += 1
        delay = float(self.delay.value or 0) or None
        idempotency_key = self.idempotency_key.value.strip() or None
        refresher = self.view.refresher
        refresher.hold()  # the notebook's watcher pokes on send: this click refreshes once, when it is done
        try:
            invocation_id = self.lab.send(service, key, handler, arg, delay=delay, idempotency_key=idempotency_key)
        except BaseException:
            refresher.release()
            raise
        self.invocation_id = invocation_id
        self.result = self.result_error = self.final_status = self._seen = None
        shown_arg = "()" if arg is NO_ARG else f"({json.dumps(arg)})"
        path = "/".join(part for part in (service, key, handler) if part is not None)
        self._call_text = html.escape(f"{path}{shown_arg}")
        self.response.value = f"{self._call_text} &rarr; <i>sent</i> &middot; <code>{invocation_id}</code>"
        self.view.invocation_id = invocation_id
        self._following = True
        self._worker = threading.Thread(
            target=self._follow,
            args=(invocation_id, self._generation, delay is not None),
            name="tourlab-invoke",
            daemon=True,
        )
        self._worker.start()
        return invocation_id

    def wait(self, timeout: float = 30.0) -> str | None:
        """Wait for the last click's invocation to finish (or the bar to stop following it)."""
        if self._worker is not None:
            self._worker.join(timeout)
        return self.final_status

    # -- following an invocation ---------------------------------------------------------

    def _follow(self, invocation_id: str, generation: int, delayed: bool) -> None:
        try:
            self._follow_until_done(invocation_id, generation, delayed)
        except Exception as error:  # noqa: BLE001 - shown in the panel
            self.show_error(error)
        finally:
            if generation == self._generation:
                self._following = False
            # The click's one round: every panel shows the answer before wait() returns.
            self.view.refresher.release()

    def _follow_until_done(self, invocation_id: str, generation: int, delayed: bool) -> None:
        """Attach in short rounds (an answer shows at once); each round refreshes the panels once and shows the
        invocation's status, and what blocks it once ``Lab.follow``'s rule finds it stuck (a fix and a resume
        may still free it)."""
        attach = [not delayed]  # a delayed call is first seen scheduled: look before attaching

        def answered(seconds: float) -> bool:
            if not attach[0]:
                attach[0] = True
                return False
            try:
                self._show_result(self.lab.attach(invocation_id, timeout=seconds))
            except InvocationTimeoutError:
                return False
            except InvocationError as failed:
                self._show_failure(str(failed))
            return True

        def handed_over(seen: Followed) -> bool:
            self.view.refresher.refresh_now()  # this round's one refresh; the loop is held meanwhile
            set_if_changed(self.status, _status_text(seen.invocation, seen.stuck if seen.blocked else None))
            return seen.status in {"scheduled", "paused"}

        polled = self.lab.follow(
            invocation_id, timeout=FOLLOW_SECONDS, until=handed_over, answer=answered, interval=ATTACH_SECONDS,
            stop_when_blocked=False, stop=lambda: generation != self._generation,
        )  # fmt: skip
        if generation != self._generation:  # a newer click follows its own invocation
            return
        if polled.value.finished and not polled.value.answered:  # it completed between two attaches
            answered(ATTACH_SECONDS)
        elif polled.value.status in {"scheduled", "paused"} or not polled.ok:
            invocation = self.lab.invocation(invocation_id)
            self.final_status = invocation.status if invocation else polled.value.status
            hint = " &middot; see Timers" if self.final_status == "scheduled" else " &middot; see Invocations"
            set_if_changed(self.status, _status_text(invocation) + hint)

    def _show_result(self, result: Any) -> None:
        self.result = result
        self.final_status = "completed"
        set_if_changed(self.status, "status: <b>completed</b>")
        text = html.escape(json.dumps(result))
        self.response.value = f"{self._call_text} &rarr; <b>{text}</b> &middot; <code>{self.invocation_id}</code>"

    def _show_failure(self, failure: str) -> None:
        self.result_error = failure
        self.final_status = "completed"
        set_if_changed(self.status, "status: <b>completed</b> with an error")
        self.response.value = (
            f"{self._call_text} &rarr; <b style='color:#dc2626'>error</b>: {html.escape(failure)}"
            f" &middot; <code>{self.invocation_id}</code>"
        )


def _free_seat(lab: Lab) -> str:
    """The first seat (seat2B, seat2C, ...) no ticket state mentions yet, so the first click reserves it."""
    try:
        taken = lab.service_state("TicketObject")
    except Exception:  # noqa: BLE001 - a panel never throws; the refresh shows what is wrong
        taken = {}
    seats = (f"seat{row}{column}" for row in "23456789" for column in "BCDEFGH")
    return next((seat for seat in seats if seat not in taken), "seat9Z")


def _status_text(invocation: Invocation | None, stuck: Stuck | None = None) -> str:
    if invocation is None:
        return "status: <i>pending</i>"
    text = f"status: <b>{html.escape(invocation.status)}</b>"
    if invocation.retry_count > 1 or invocation.last_failure:
        text += f" (attempt {invocation.retry_count})"
    if invocation.last_failure and invocation.status != "completed":
        text += f": <span style='color:#dc2626'>{html.escape(invocation.failure)}</span>"
    if stuck is not None and stuck.culprit.id != invocation.id:
        text += f"<br>{html.escape(str(stuck)).replace(chr(10), '<br>')}"
    return text
