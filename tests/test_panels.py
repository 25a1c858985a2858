"""The live panels against the real Restate: click buttons, read widget values."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import RecordedRestate, eventually, recorded
from test_core_unit import offline_lab  # noqa: F401 - a fixture: a Lab over recorded rows

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
from tourlab.panels import _base as panels_base
from tourlab.panels._format import countdown
from tourlab.panels.events import REJECT_PAYMENT_HANDLER

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
    # timers: the click's round shows the expireTicket it sent, argument included (from its own journal)
    sent = [timer for timer in board.timers.timers if timer.target == f"CartObject/{user}/expireTicket"]
    assert [timer.argument for timer in sent] == [seat]
    assert seat in board.timers.table.value
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


def test_a_click_costs_one_full_refresh_round(lab: Lab, unique, monkeypatch):
    monkeypatch.setattr(panels_base, "FULL_ROUND_SECONDS", 3600.0)  # no timer's full round in between
    lab.load("tour/part4")
    board = Dashboard(lab)  # live: the lab's watcher pokes the loop on every send
    refresher = board.view.refresher
    try:
        for _ in range(3):
            board.invoke.user.value, board.invoke.seat.value = unique("Mary"), unique("seat")
            board.refresh()  # the user field's poke is done with: what follows is the click's
            before = refresher.rounds
            board.invoke.buttons["addTicket"].click()
            assert board.invoke.wait(30) == "completed"
            assert refresher.rounds - before == 1
            assert board.state.data[f"CartObject/{board.invoke.user.value}"] == {"tickets": [board.invoke.seat.value]}
    finally:
        board.close()


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


def test_the_awakeable_field_follows_the_selection_and_reject_hits_the_selected_one(lab: Lab, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "600")  # the provider stays silent: the panel answers
    lab.load("tour/part7")
    board = Dashboard(lab, live=False)
    try:
        waiting = {}
        for name in ("Ann", "Bob"):
            user = unique(name)
            assert lab.call("CartObject", user, "addTicket", unique("seat")) is True
            waiting[user] = lab.send("CartObject", user, "checkoutWithProvider")
            eventually(lambda user=user: str(lab.state("CartObject", user).get("pending_payment")).startswith("sign_"))
        (ann, ann_id), (bob, bob_id) = waiting.items()

        board.select(ann_id)
        ann_awakeable = lab.state("CartObject", ann)["pending_payment"]
        assert board.events.awakeable.value == ann_awakeable
        assert next(iter(board.state.data)) == f"CartObject/{ann}"  # the State box shows the selected cart first
        board.select(bob_id)
        assert board.events.awakeable.value == lab.state("CartObject", bob)["pending_payment"] != ann_awakeable
        assert next(iter(board.state.data)) == f"CartObject/{bob}"

        board.events.value.value = "card declined"
        board.events.reject.click()

        assert board.events.last_error is None
        assert lab.attach(bob_id, timeout=15) is False  # Bob's checkout got the rejection ...
        assert lab.invocation(ann_id).active  # ... and Ann's still waits
        lab.cancel(ann_id)
    finally:
        board.close()


PAYMENT_WORKFLOW = """\
import restate
from restate import TerminalError, WorkflowContext, WorkflowSharedContext

pay = restate.Workflow("PayWorkflow")


@pay.main()
async def run(ctx: WorkflowContext, amount: int) -> str:
    ctx.set("status", "waiting for payment")
    try:
        await ctx.promise("payment", type_hint=str).value()
    except TerminalError as rejected:
        ctx.set("status", f"rejected: {rejected.message}")
        return f"rejected: {rejected.message}"
    ctx.set("status", "paid")
    return "paid"


@pay.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, payment_id: str) -> None:
    await ctx.promise("payment", type_hint=str).resolve(payment_id)


@pay.handler("{reject}")
async def reject_payment(ctx: WorkflowSharedContext, reason: str) -> None:
    await ctx.promise("payment", type_hint=str).reject(reason)


app = restate.app(services=[pay])
"""


def test_a_waiting_workflow_payment_is_rejected_from_the_events_panel(lab: Lab, tmp_path: Path, unique):
    package = tmp_path / f"payflow_{uuid.uuid4().hex[:8]}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(PAYMENT_WORKFLOW.replace("{reject}", REJECT_PAYMENT_HANDLER))
    lab.load(package)
    board = Dashboard(lab, live=False)
    try:
        order = unique("order")
        submitted = lab.submit("PayWorkflow", order, 40)
        eventually(lambda: lab.waiting_for(submitted.invocation_id) is not None)
        board.select(submitted.invocation_id)
        assert "promise &#x27;payment&#x27;" in board.events.waits.value
        assert not board.events.reject_payment.disabled
        assert board.state.data[f"PayWorkflow/{order}"] == {"status": "waiting for payment"}

        board.events.reason.value = "card declined"
        board.events.reject_payment.click()

        assert board.events.last_error is None
        assert f"PayWorkflow/{order}/{REJECT_PAYMENT_HANDLER}" in board.events.message.value
        assert lab.attach(f"PayWorkflow/{order}", timeout=15) == "rejected: card declined"
        board.refresh()
        assert board.state.data[f"PayWorkflow/{order}"] == {"status": "rejected: card declined"}
    finally:
        board.close()
        lab.load("tour/part4")


def test_the_invoke_bar_offers_the_served_handlers_and_deployments_show_the_pinned(lab: Lab, unique, monkeypatch):
    lab.load("tour/versions/v1")  # chapter 12: an OrderService, no CartObject
    board = Dashboard(lab, live=False)
    try:
        bar = board.invoke
        assert all(button.layout.display == "none" for button in bar.buttons.values())
        assert "OrderService/checkout" in bar.target.options
        # Earlier tests of this worker may have left unfinished invocations on the same deployment.
        earlier = {row["id"] for row in lab.query("SELECT id FROM sys_invocation WHERE status <> 'completed'")}
        monkeypatch.setenv("TOUR_SETTLE_SECONDS", "600")
        asleep = lab.send("OrderService", None, "checkout", {"user_id": unique("Ann"), "tickets": ["seat1A"]})
        lab.wait_for(asleep, "suspended", timeout=15)

        monkeypatch.setenv("TOUR_SETTLE_SECONDS", "0")
        bar.target.value = "OrderService/checkout"
        bar.key.value = "ignored: OrderService is a plain service"
        bar.argument.value = '{"user_id": "Bob", "tickets": ["seat2A", "seat2B"]}'
        bar.send.click()
        assert bar.wait(30) == "completed"
        assert bar.result == {"version": "v1", "total": 80}
        bar.buttons["addTicket"].click()  # hidden here; a click anyway says why
        assert "serves no CartObject/addTicket" in (bar.last_error or "")

        board.bottom.selected_index = 2  # the Deployments tab reads Restate only while it is shown
        [deployment] = lab.deployments()
        assert list(board.deployments.pinned) == [deployment.id]
        assert [i for i in board.deployments.pinned[deployment.id] if i not in earlier] == [asleep]
        assert deployment.uri in board.deployments.table.value
        assert "OrderService <i>rev.&nbsp;1</i>" in board.deployments.table.value
        lab.kill(asleep)
    finally:
        board.close()
        lab.load("tour/part4")


#: A kernel that starts a lab, shows a dashboard, then starts over as a second open_section does.
_TWO_LABS = """
from tourlab import Lab
from tourlab.panels import Dashboard
from tourlab.panels._base import STOPPED

first = Lab.start("tour/part4")
board = Dashboard(first, live=False)
first.stop()
second = Lab.start("tour/part4")
board.invoke.user.value, board.invoke.seat.value = "Ann", "seat2B"
board.invoke.buttons["addTicket"].click()
assert board.invoke.wait(30) == "completed", board.invoke.last_error
assert board.lab is second and board.invoke.result is True
assert [p.last_error for p in board.panels] == [None] * len(board.panels)
assert board.state.data["CartObject/Ann"] == {"tickets": ["seat2B"]}
second.stop()
board.refresh()
assert all(p.last_error == STOPPED for p in board.panels), [p.last_error for p in board.panels]
print("followed")
"""


def test_a_dashboard_follows_the_kernels_running_lab_or_says_its_lab_stopped(tmp_path: Path):
    # Its own process: the session's lab stays untouched by the two labs started and stopped here.
    done = subprocess.run(
        [sys.executable, "-c", _TWO_LABS],
        capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT, check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TOURLAB_HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("followed")


# -- a panel round on recorded rows (no Restate) -------------------------------------------------

ADDED = recorded("add_ticket_completed")
WAITING = recorded("awakeable_waiting")


def _waiting_checkout(invocation_id: str, key: str, awakeable: str, created_at: str) -> RecordedRestate:
    """The recorded waiting checkoutWithProvider, as another cart's with its own awakeable id."""
    [row] = WAITING["sys_invocation"]["rows"]
    journal = []
    for recorded_entry in WAITING["sys_journal"]["rows"]:
        entry = {**recorded_entry, "id": invocation_id}
        if entry["entry_type"] == "Command: SetState":  # pending_payment = the awakeable's id
            detail = json.loads(entry["entry_json"])
            detail["Command"]["SetState"]["value"] = list(json.dumps(awakeable).encode())
            entry["entry_json"] = json.dumps(detail)
        journal.append(entry)
    target = f"CartObject/{key}/checkoutWithProvider"
    invocation = {**row, "id": invocation_id, "target": target, "target_service_key": key, "created_at": created_at}
    return RecordedRestate(invocations=[invocation], journals={invocation_id: journal})


def _recorded_restate(*parts: RecordedRestate) -> RecordedRestate:
    return RecordedRestate(
        invocations=[row for part in parts for row in part.invocations],
        journals={key: rows for part in parts for key, rows in part.journals.items()},
        state=[row for part in parts for row in part.state],
    )


def _row(table_html: str, invocation_id: str) -> list[str]:
    """The cells of the table row that shows `invocation_id`."""
    row = next(r for r in table_html.split("<tr")[1:] if invocation_id in r)
    return [cell.split(">", 1)[1].split("</td>")[0] for cell in row.split("<td")[1:]]


@pytest.fixture
def recorded_board(request: pytest.FixtureRequest) -> Iterator[Callable[[RecordedRestate], Dashboard]]:
    """Dashboards over labs that answer from recorded rows (test_core_unit's offline_lab)."""
    offline = request.getfixturevalue("offline_lab")
    made: list[Dashboard] = []

    def make(rec: RecordedRestate) -> Dashboard:
        made.append(Dashboard(offline(rec), live=False))
        return made[-1]

    yield make
    for board in made:
        board.close()


def test_a_round_hides_the_checks_own_invocations_unless_asked(recorded_board):
    [added] = ADDED["sys_invocation"]["rows"]
    check_row = {**added, "id": "inv_check1", "target": "CartObject/check-expire_ticket-1/addTicket"}
    check_row["created_at"] = "2099-01-01T00:00:00.000Z"  # the newest
    rec = _recorded_restate(
        RecordedRestate(invocations=[added, check_row], journals={added["id"]: ADDED["sys_journal"]["rows"]}),
    )
    board = recorded_board(rec)

    assert "inv_check1" not in board.invocations.table.value
    assert added["id"] in board.invocations.table.value
    assert board.view.hidden_checks == 1  # the next round reads one more, so a burst of checks still leaves 12
    board.invocations.show_checks.value = True
    assert "CartObject/check-expire_ticket-1/addTicket" in board.invocations.table.value
    board.invocations.show_checks.value = False
    assert "inv_check1" not in board.invocations.table.value


def test_retries_are_attempts_after_the_first(recorded_board):
    rec = _waiting_checkout("inv_waiting1", "Ann", "sign_ann", "2026-11-28T05:14:00.000Z")
    rec.invocations[0] = {**rec.invocations[0], "status": "running", "retry_count": 1}  # Restate counts attempts
    board = recorded_board(rec)
    headers = board.invocations.table.value.split("<tbody>")[0]
    assert ">retries</th>" in headers
    cells = _row(board.invocations.table.value, "inv_waiting1")
    assert cells[2] == "0"  # a healthy first attempt still waiting has not been retried
    rec.invocations[0] = {**rec.invocations[0], "status": "backing-off", "retry_count": 4}
    board.refresh()
    assert _row(board.invocations.table.value, "inv_waiting1")[2] == "3"


def test_the_awakeable_field_and_the_state_box_follow_the_selection(recorded_board):
    rec = _recorded_restate(
        _waiting_checkout("inv_ann", "Ann", "sign_ann", "2026-11-28T05:14:00.000Z"),
        _waiting_checkout("inv_bob", "Bob", "sign_bob", "2026-11-28T05:15:00.000Z"),
    )
    board = recorded_board(rec)

    board.select("inv_ann")
    assert board.events.awakeable.value == "sign_ann"
    assert next(iter(board.state.data)) == "CartObject/Ann"
    board.select("inv_bob")
    assert board.events.awakeable.value == "sign_bob"  # not the first id it saw
    assert next(iter(board.state.data)) == "CartObject/Bob"
    board.events.awakeable.value = "sign_typed"  # typed by hand: kept while the selection stays
    board.refresh()
    assert board.events.awakeable.value == "sign_typed"
    board.select("inv_gone")  # nothing recorded: nothing waits
    assert board.events.awakeable.value == ""
