"""The live panels against the real Restate: click buttons, read widget values."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import eventually

from tourlab import PROJECT_ROOT, Invocation, Lab
from tourlab._runtimes import restate_ui_url
from tourlab._runtimes.external import ExternalRestate
from tourlab.panels import (
    Dashboard,
    DeploymentsPanel,
    EventsPanel,
    FaultsPanel,
    InvocationsPanel,
    InvokeBar,
    JournalPanel,
    StatePanel,
    TimersPanel,
    TracePanel,
    browser_url,
    jaeger_trace_url,
)
from tourlab.panels._base import countdown

#: What a dropped invocation (no row any more) counts as.
_DONE = Invocation(id="", target="", status="completed")


@pytest.fixture
def board(lab: Lab) -> Iterator[Dashboard]:
    """All panels on tour/part4, refreshed by the test (no background loop)."""
    lab.load("tour/part4")
    dashboard = Dashboard(lab, live=False)
    yield dashboard
    dashboard.close()


def _click(board: Dashboard, handler: str, user: str, seat: str = "", **fields: object) -> str | None:
    board.invoke.user.value = user
    board.invoke.seat.value = seat
    board.invoke.idempotency_key.value = str(fields.get("idempotency_key", ""))
    board.invoke.delay.value = float(fields.get("delay", 0))  # type: ignore[arg-type]
    board.invoke.buttons[handler].click()
    return board.invoke.wait(30)


def test_add_ticket_shows_response_journal_state_and_trace(board: Dashboard, unique):
    user, seat = unique("Mary"), unique("seat")

    assert _click(board, "addTicket", user, seat) == "completed"

    bar = board.invoke
    assert bar.result is True
    assert "<b>true</b>" in bar.response.value
    assert bar.invocation_id in bar.response.value
    assert board.view.invocation_id == bar.invocation_id
    # journal: the call to TicketObject/reserve, with a button to the callee's journal
    call = next(entry for entry in board.journal.entries if entry.entry_type == "Command: Call")
    assert call.target == f"TicketObject/{seat}/reserve"
    assert call.completed is True
    assert f"TicketObject/{seat}/reserve" in board.journal.table.value
    assert any(f"TicketObject/{seat}/reserve" in button.description for button in board.journal.links.children)
    # state: the seat is in the cart and reserved
    assert board.state.data[f"CartObject/{user}"] == {"tickets": [seat]}
    assert board.state.data[f"TicketObject/{seat}"] == {"status": "RESERVED"}
    assert seat in board.state.cart.value
    # the invocations panel lists it as completed
    row = board.invocations.status_of(bar.invocation_id)
    assert row is not None
    assert row.status == "completed"
    # trace: spans of the selected invocation (arrive ~0.2 s after the call)
    board.lab.trace(bar.invocation_id)
    board.refresh()
    assert board.trace.trace is not None
    assert len(board.trace.trace.attempts) == 2  # addTicket and reserve
    assert "invocation-attempt" in board.trace.waterfall.value
    assert "download as Jaeger JSON" in board.trace.links.value
    for panel in board.panels:
        assert panel.last_error is None, (type(panel).__name__, panel.last_error)


def test_jump_to_the_callee_journal_and_back(board: Dashboard, unique):
    user, seat = unique("Mary"), unique("seat")
    _click(board, "addTicket", user, seat)
    caller = board.view.invocation_id
    call = next(entry for entry in board.journal.entries if entry.callee_id)

    callee_button = next(b for b in board.journal.links.children if "reserve" in b.description)
    callee_button.click()

    assert board.view.invocation_id == call.callee_id
    assert f"TicketObject/{seat}/reserve" in board.journal.heading.value
    assert any(entry.entry_type == "Command: SetState" for entry in board.journal.entries)
    back = next(b for b in board.journal.links.children if b.description == "caller")
    back.click()
    assert board.view.invocation_id == caller


def test_the_idempotency_key_returns_the_first_result(board: Dashboard, unique):
    user, seat, key = unique("Mary"), unique("seat"), unique("key")
    _click(board, "addTicket", user, seat, idempotency_key=key)
    first = board.invoke.invocation_id
    _click(board, "addTicket", user, seat, idempotency_key=key)
    assert board.invoke.invocation_id == first
    assert board.invoke.result is True
    _click(board, "addTicket", user, seat)
    assert board.invoke.result is False  # the seat is taken now


def test_checkout_via_the_bar_empties_the_cart(board: Dashboard, unique):
    user, seat = unique("Mary"), unique("seat")
    _click(board, "addTicket", user, seat)
    assert _click(board, "checkout", user) == "completed"
    assert board.invoke.result is True
    board.state.refresh()
    assert board.state.data[f"CartObject/{user}"] == {}
    # markAsSold is a one-way send: it may still be running, so wait for the ticket's state
    board.lab.wait_for(
        board.lab.query(f"SELECT id FROM sys_invocation WHERE target = 'TicketObject/{seat}/markAsSold'")[0]["id"]
    )
    board.state.refresh()
    assert board.state.data[f"TicketObject/{seat}"] == {"status": "SOLD"}


def test_a_delayed_expire_ticket_counts_down_in_timers(board: Dashboard, unique):
    user, seat = unique("Mary"), unique("seat")

    assert _click(board, "expireTicket", user, seat, delay=600) == "scheduled"

    invocation_id = board.invoke.invocation_id
    timers = board.timers.refresh_from_restate()
    mine = [timer for timer in timers if timer.invocation_id == invocation_id]
    assert len(mine) == 1
    assert mine[0].kind == "delayed call"
    assert mine[0].target == f"CartObject/{user}/expireTicket"
    assert mine[0].fires_at is not None
    assert f"CartObject/{user}/expireTicket" in board.timers.table.value
    assert "<b>in " in board.timers.table.value  # a countdown, not "due now"
    assert countdown(mine[0].fires_at, now=mine[0].fires_at - 65) == "in 1 min 05 s"
    assert countdown(mine[0].fires_at, now=mine[0].fires_at - 2.5) == "in 2.5 s"
    assert countdown(mine[0].fires_at, now=mine[0].fires_at + 1) == "due now"
    assert "see Timers" in board.invoke.status.value
    board.invocations.act("kill", invocation_id)  # tidy up: a killed scheduled call is dropped
    eventually(lambda: (board.lab.invocation(invocation_id) or _DONE).status == "completed")
    assert all(timer.invocation_id != invocation_id for timer in board.timers.refresh_from_restate())


BROKEN_LINE = "    reserved = await ctx.object_call(reserve, key=ticket_id, arg=None)\n"


@pytest.fixture
def broken_cart(tmp_path: Path) -> Path:
    """tour/part4 copied to its own package, with addTicket failing right after the reserve call."""
    name = f"broken_{uuid.uuid4().hex[:8]}"
    target = tmp_path / name
    shutil.copytree(PROJECT_ROOT / "tour" / "part4", target, ignore=shutil.ignore_patterns("__pycache__"))
    for module in target.glob("*.py"):
        module.write_text(module.read_text().replace("tour.part4.", f"{name}."))
    cart = target / "cart_object.py"
    source = cart.read_text()
    assert BROKEN_LINE in source
    cart.write_text(source.replace(BROKEN_LINE, BROKEN_LINE + '    raise ValueError("seat map offline")\n'))
    return target


def test_a_failing_handler_backs_off_and_resume_completes_it_after_a_fix(lab: Lab, broken_cart: Path, unique):
    lab.load(broken_cart)
    board = Dashboard(lab, live=False)
    try:
        user, seat = unique("Mary"), unique("seat")
        board.invoke.user.value, board.invoke.seat.value = user, seat
        board.invoke.buttons["addTicket"].click()  # returns at once; a worker follows the invocation
        invocation_id = board.invoke.invocation_id
        assert invocation_id is not None
        lab.wait_for(invocation_id, "backing-off", timeout=15)
        board.refresh()

        row = board.invocations.status_of(invocation_id)
        assert row is not None
        assert row.status == "backing-off"
        assert row.retry_count >= 1
        assert "ValueError: seat map offline" in board.invocations.table.value
        # the journal kept the reserve call; the trace shows the failed attempt
        assert any(entry.target == f"TicketObject/{seat}/reserve" for entry in board.journal.entries)
        lab.trace(invocation_id)
        board.refresh()
        assert board.trace.trace is not None
        assert board.trace.trace.failed_attempts
        assert "&#10007;" in board.trace.waterfall.value
        assert "ValueError: seat map offline" in board.trace.waterfall.value

        cart = broken_cart / "cart_object.py"
        cart.write_text(cart.read_text().replace('    raise ValueError("seat map offline")\n', ""))
        lab.reload()
        board.invocations.actions["resume"].click()

        assert board.invoke.wait(30) == "completed"
        assert board.invoke.result is True  # the journaled reserve result, not a second reservation
        board.refresh()
        assert board.invocations.status_of(invocation_id).status == "completed"
        assert board.state.data[f"CartObject/{user}"] == {"tickets": [seat]}
        assert "resume" in board.invocations.message.value
    finally:
        board.close()
        lab.load("tour/part4")


def test_endpoint_down_then_up_via_the_faults_panel(board: Dashboard, unique):
    user, seat = unique("Mary"), unique("seat")
    faults = board.faults
    faults.inject("stop endpoint", wait=True)
    try:
        assert not board.lab.endpoint_running
        assert "backing-off" in faults.note.value
        assert "down" in faults.state.value
        board.invoke.user.value, board.invoke.seat.value = user, seat
        board.invoke.buttons["addTicket"].click()
        invocation_id = board.invoke.invocation_id
        board.lab.wait_for(invocation_id, "backing-off", timeout=15)
    finally:
        faults.inject("start endpoint", wait=True)
    assert board.lab.endpoint_running
    assert "next retry" in faults.note.value
    board.invocations.act("resume", invocation_id)
    assert board.invoke.wait(30) == "completed"
    assert board.invoke.result is True


def test_restart_server_keeps_state(board: Dashboard, unique):
    user, seat = unique("Mary"), unique("seat")
    _click(board, "addTicket", user, seat)

    board.faults.inject("restart server", wait=True)

    assert board.faults.last_error is None
    assert "still there" in board.faults.note.value
    board.refresh()
    assert board.state.data[f"CartObject/{user}"] == {"tickets": [seat]}
    assert any(timer.target == f"CartObject/{user}/expireTicket" for timer in board.timers.refresh_from_restate())
    # the restarted server still exports its spans to the same in-kernel receiver
    _click(board, "addTicket", user, unique("seat"))
    assert board.lab.trace(board.invoke.invocation_id).attempts


def test_mistakes_show_inside_the_panel(board: Dashboard):
    board.invoke.user.value = ""
    board.invoke.buttons["addTicket"].click()  # must not raise
    assert "Enter a user" in (board.invoke.last_error or "")
    assert "Enter a user" in board.invoke.error.value
    board.invoke.user.value = "Mary"
    board.invoke.seat.value = ""
    board.invoke.buttons["expireTicket"].click()
    assert "needs a seat" in (board.invoke.last_error or "")
    board.invocations.picker.options = []
    board.view.invocation_id = None
    board.invocations.actions["kill"].click()
    assert "Select an invocation" in (board.invocations.last_error or "")


def test_text_reprs_are_stable(board: Dashboard):
    assert repr(board) == (
        "Lab panels: invoke bar, journal, trace, state, timers, invocations, outside events, fault injection"
    )
    assert board._repr_mimebundle_()["text/plain"] == repr(board)
    expected = {
        InvokeBar: "InvokeBar: call the lab's handlers (the cart's buttons, or any served handler by name)",
        JournalPanel: "JournalPanel: journal of the selected invocation",
        StatePanel: "StatePanel: cart of the current user and status of the tickets involved",
        InvocationsPanel: "InvocationsPanel: recent invocations with status, retries and last failure",
        TimersPanel: "TimersPanel: scheduled calls and sleeps with a countdown",
        TracePanel: "TracePanel: waterfall of the selected invocation's trace",
        FaultsPanel: "FaultsPanel: stop/start the endpoint, restart the Restate server",
        EventsPanel: ("EventsPanel: resolve or reject an awakeable, complete a workflow's promise through its handler"),
        DeploymentsPanel: (
            "DeploymentsPanel: registered deployments, their endpoints and the invocations pinned to each"
        ),
    }
    for panel in board.panels:
        assert repr(panel) == expected[type(panel)]
        assert panel._repr_mimebundle_()["text/plain"] == expected[type(panel)]


def test_links_go_through_the_jupyterhub_proxy():
    hub = {"JUPYTERHUB_SERVICE_PREFIX": "/user/ann/", "TOURLAB_JAEGER_URL": "http://127.0.0.1:16686"}
    assert browser_url("http://127.0.0.1:9070/ui/", hub) == "/user/ann/proxy/9070/ui/"
    assert browser_url("http://example.org:9070/", hub) == "http://example.org:9070/"
    embedded = ExternalRestate("http://127.0.0.1:9070", "http://127.0.0.1:8080", endpoint_host="h", bind_host="h")
    assert restate_ui_url(embedded, hub) is None
    assert jaeger_trace_url("abc", hub) == "/user/ann/proxy/16686/trace/abc"

    local = {"TOURLAB_JAEGER_URL": "http://localhost:16686/"}
    assert browser_url("http://127.0.0.1:9070/ui/", local) == "http://127.0.0.1:9070/ui/"
    assert restate_ui_url(embedded, local) == "http://127.0.0.1:9070/ui/"
    assert jaeger_trace_url("abc", local) == "http://localhost:16686/trace/abc"
    assert jaeger_trace_url("abc", {}) is None


def test_the_live_loop_refreshes_while_busy_and_then_sleeps(lab: Lab, unique):
    lab.load("tour/part4")
    board = Dashboard(lab)
    try:
        assert board.view.refresher.live
        board.invoke.user.value, board.invoke.seat.value = unique("Mary"), unique("seat")
        board.invoke.buttons["addTicket"].click()
        assert board.invoke.wait(30) == "completed"
        rounds = board.view.refresher.rounds
        assert rounds >= 1
        thread = board.view.refresher._thread
        assert thread is not None
        assert thread.is_alive()
    finally:
        board.close()
    thread.join(5)
    assert not thread.is_alive()


def test_a_waiting_workflow_is_completed_from_the_events_panel(lab: Lab, unique):
    lab.load("tour/part7")
    board = Dashboard(lab, live=False)
    try:
        order = unique("order")
        submitted = lab.submit("CheckoutWorkflow", order, {"user_id": unique("Ann"), "tickets": [unique("seat")]})
        lab.wait_for(submitted.invocation_id, "running", "suspended", timeout=10)
        eventually(lambda: lab.waiting_for(submitted.invocation_id) is not None)
        board.select(submitted.invocation_id)

        row = next(r for r in board.invocations.table.value.split("<tr") if order in r)
        assert "promise &#x27;payment&#x27; or a timer" in row
        assert "promise &#x27;payment&#x27;" in board.events.waits.value
        assert "confirmPayment" in board.events.handler.options
        assert "<b>waiting</b>" in board.journal.table.value

        board.events.handler.value = "confirmPayment"
        board.events.argument.value = '{"payment_id": "p-1", "amount": 40}'
        board.events.call.click()

        assert board.events.last_error is None
        assert lab.attach(f"CheckoutWorkflow/{order}", timeout=15) is True
        board.refresh()
        assert "not needed" in board.journal.table.value  # the timer lost the race
    finally:
        board.close()


def test_an_awakeable_is_resolved_from_the_events_panel(lab: Lab, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "600")  # the provider stays silent: the panel answers
    lab.load("tour/part7")
    board = Dashboard(lab, live=False)
    try:
        user, seat = unique("Mary"), unique("seat")
        assert lab.call("CartObject", user, "addTicket", seat) is True
        waiting = lab.send("CartObject", user, "checkoutWithProvider")
        eventually(lambda: str(lab.state("CartObject", user).get("pending_payment", "")).startswith("sign_"))
        board.select(waiting)
        assert board.events.awakeable.value.startswith("sign_")
        assert "an awakeable" in board.events.waits.value

        board.events.value.value = "true"
        board.events.resolve.click()

        assert board.events.last_error is None
        assert lab.attach(waiting, timeout=15) is True
        assert lab.state("CartObject", user) == {}
    finally:
        board.close()
