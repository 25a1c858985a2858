"""Fast unit tests of the core, answered from rows recorded on a real restate-server (no server here)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import RecordedRestate, recorded

from tourlab import NO_ARG, InvocationError, Lab, LabError, RestateClient, poll
from tourlab._endpoint import Endpoint
from tourlab._logs import EndpointLog
from tourlab._model import parse_journal
from tourlab._runtimes.external import ExternalRestate
from tourlab.panels import Dashboard, InvocationsPanel, JournalPanel, StatePanel, TimersPanel, TracePanel

ADD = recorded("core/add_ticket_completed")
SCHEDULED = recorded("core/expire_ticket_scheduled")
STATE = recorded("core/state_rows")
ADD_ID = ADD["sys_invocation"][0]["id"]
SCHEDULED_ID = SCHEDULED["sys_invocation"][0]["id"]


def restate() -> RecordedRestate:
    return RecordedRestate(
        invocations=ADD["sys_invocation"] + SCHEDULED["sys_invocation"],
        journals={ADD_ID: ADD["sys_journal"], SCHEDULED_ID: SCHEDULED["sys_journal"]},
        state=STATE["state"],
        outputs={ADD_ID: ADD["output"]},
    )


def client(answer: Callable[[httpx.Request], httpx.Response]) -> RestateClient:
    return RestateClient("http://restate:9070", "http://restate:8080", transport=httpx.MockTransport(answer))


@pytest.fixture
def offline_lab(tmp_path: Path) -> Iterator[Callable[[Callable[[httpx.Request], httpx.Response]], Lab]]:
    """A Lab over a Restate that only answers through `answer` (nothing is started)."""
    made: list[Lab] = []

    def make(answer: Callable[[httpx.Request], httpx.Response]) -> Lab:
        runtime = ExternalRestate(
            "http://restate:9070", "http://restate:8080", endpoint_host="127.0.0.1", bind_host="127.0.0.1"
        )
        log = EndpointLog(tmp_path / "endpoint.log")
        lab = Lab(
            runtime,
            Endpoint(),
            log,
            traces=None,
            tracing_problem="Tracing is off for this lab.",
            transport=httpx.MockTransport(answer),
        )
        lab.client.last_invocation_id = ADD_ID
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.stop()
        lab.endpoint_log.uninstall()


# -- journal and rows ---------------------------------------------------------------------------


def test_a_journal_pairs_commands_with_their_completions():
    entries = parse_journal(ADD["sys_journal"])
    call = next(e for e in entries if e.entry_type == "Command: Call")
    assert call.target == "TicketObject/seat2B/reserve"
    assert call.callee_id is not None
    assert call.callee_id.startswith("inv_")
    assert call.completed is True
    delayed = next(e for e in entries if e.entry_type == "Command: OneWayCall")
    assert delayed.target == "CartObject/Mary/expireTicket"
    assert delayed.wake_up_at is not None  # the time the delayed call runs
    assert [e.name for e in entries if "State" in e.entry_type] == ["tickets", "tickets"]
    notifications = [e for e in entries if not e.is_command]
    assert notifications
    assert all(e.completed is None for e in notifications)


def test_an_unfinished_call_is_waiting():
    rows = [row for row in ADD["sys_journal"] if row["entry_type"] != "Notification: Call"]
    call = next(e for e in parse_journal(rows) if e.entry_type == "Command: Call")
    assert call.completed is False


def test_invocations_state_and_timers_are_read_from_rows():
    rec = restate()
    api = client(rec)

    invocation = api.invocation(ADD_ID)
    assert invocation is not None
    assert (invocation.target, invocation.status, invocation.active) == (
        "CartObject/Mary/addTicket",
        "completed",
        False,
    )
    assert [inv.id for inv in api.invocations()] == [SCHEDULED_ID, ADD_ID]
    assert api.state("CartObject", "Mary") == {"tickets": ["seat2B"]}
    assert api.service_state("TicketObject") == {"seat2B": {"status": "RESERVED"}}
    assert api.states([("CartObject", "Mary"), ("CartObject", "Nobody")]) == {
        ("CartObject", "Mary"): {"tickets": ["seat2B"]},
        ("CartObject", "Nobody"): {},
    }
    (timer,) = api.timers()
    assert (timer.kind, timer.target, timer.invocation_id) == (
        "delayed call",
        "CartObject/Bob/expireTicket",
        SCHEDULED_ID,
    )
    assert timer.fires_at is not None
    assert timer.fires_at > time.mktime(time.strptime("2026-01-01", "%Y-%m-%d"))
    assert api.output(ADD_ID) is True


def test_sql_text_is_quoted():
    rec = restate()
    client(rec).invocation("inv_x' OR '1'='1")
    assert rec.queries() == ["SELECT * FROM sys_invocation WHERE id = 'inv_x'' OR ''1''=''1'"]


def test_errors_say_what_happened():
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/query":
            return httpx.Response(400, text="unknown column foo")
        return httpx.Response(500, json={"message": "ValueError: seat map offline"}, headers={"x-restate-id": "inv_1"})

    api = client(refuse)
    with pytest.raises(LabError, match=r"Restate rejected the query \(400\): unknown column foo"):
        api.query("SELECT foo FROM sys_invocation")
    with pytest.raises(InvocationError, match="CartObject/addTicket failed with HTTP 500: ValueError") as raised:
        api.call("CartObject", "Mary", "addTicket", "seat2B")
    assert (raised.value.status_code, raised.value.invocation_id) == (500, "inv_1")
    with pytest.raises(LabError, match="must be JSON data"):
        api.send("CartObject", "Mary", "addTicket", {1, 2})


def test_calls_send_json_and_no_body_without_an_argument():
    seen: list[httpx.Request] = []

    def accept(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"invocationId": "inv_2", "status": "Accepted"})

    api = client(accept)
    assert api.send("CartObject", "Mary Ann", "checkout", NO_ARG, delay=1.5, idempotency_key="k1") == "inv_2"
    assert api.send("CartObject", "Mary", "addTicket", None) == "inv_2"
    first, second = seen
    assert first.url.raw_path == b"/CartObject/Mary%20Ann/checkout/send?delay=1500ms"
    assert first.url.params["delay"] == "1500ms"
    assert first.content == b""
    assert first.headers["idempotency-key"] == "k1"
    assert second.content == b"null"  # None is JSON null, NO_ARG is no input at all
    assert api.last_invocation_id == "inv_2"


def test_poll_returns_the_first_wanted_value_or_the_last_one_seen():
    values = iter(range(10))
    assert poll(lambda: next(values), lambda n: n >= 3, timeout=5, interval=0).value == 3
    missed = poll(lambda: 1, lambda n: n > 1, timeout=0.05, interval=0.01)
    assert (missed.value, missed.ok) == (1, False)
    assert poll(lambda: 0, timeout=5, interval=0.01, stop=lambda: True).ok is False


# -- panels over recorded rows --------------------------------------------------------------------


def test_panels_show_recorded_rows_and_read_each_thing_once(offline_lab):
    rec = restate()
    lab = offline_lab(rec)
    board = Dashboard(lab, live=False)
    try:
        board.view.seats = ["seat2B"]
        rec.requests.clear()
        board.refresh()

        assert [p.last_error for p in board.panels] == [None] * len(board.panels)
        assert "TicketObject/seat2B/reserve" in board.journal.table.value
        assert board.state.data == {
            "CartObject/Mary": {"tickets": ["seat2B"]},
            "TicketObject/seat2B": {"status": "RESERVED"},
        }
        assert "CartObject/Bob/expireTicket" in board.timers.table.value
        assert board.invocations.status_of(ADD_ID) is not None
        assert "Tracing is off" in board.trace.waterfall.value
        # One round reads each thing once: recent invocations, the journal, the cart, the tickets, the timers.
        queries = rec.queries()
        assert len(queries) == len(set(queries)), queries
        assert sum("FROM sys_invocation WHERE id" in q for q in queries) == 0  # the selection is in the list
    finally:
        board.close()


def test_a_panel_never_throws_into_the_notebook_when_restate_is_down(offline_lab):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed", request=request)

    lab = offline_lab(down)
    for panel_class in (JournalPanel, StatePanel, InvocationsPanel, TimersPanel):
        panel = panel_class(lab, live=False)
        panel.view.invocation_id = "inv_gone"
        panel.refresh()
        assert "Restate does not answer" in (panel.last_error or ""), panel_class
        assert "Restate does not answer" in panel.error.value
        assert "ConnectError" not in panel.error.value  # a sentence, not the transport's words
        panel.close()
    trace = TracePanel(lab, live=False)
    trace.view.invocation_id = "inv_gone"
    trace.refresh()
    assert "Tracing is off" in trace.waterfall.value
    trace.close()
