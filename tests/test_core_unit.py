"""Fast unit tests of the core, answered from rows recorded on a real restate-server (no server here)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import RecordedRestate, recorded

from tourlab import (
    Invocation,
    InvocationError,
    InvocationTimeoutError,
    JournalEntry,
    Lab,
    LabError,
    RestateUnreachableError,
    poll,
)
from tourlab._client import NO_ARG, AdminIngressClient
from tourlab._endpoint import Endpoint
from tourlab._logs import EndpointLog
from tourlab._model import parse_journal, waiting_for
from tourlab._runtimes.external import ExternalRestate
from tourlab.panels import Dashboard, InvocationsPanel, JournalPanel, StatePanel, TimersPanel, TracePanel

pytestmark = pytest.mark.unit

ADD = recorded("add_ticket_completed")
SCHEDULED = recorded("scheduled")
ADD_ID, SCHEDULED_ID = ADD["invocation_id"], SCHEDULED["invocation_id"]
ADD_JOURNAL = ADD["sys_journal"]["rows"]
#: The cart and seat of the recorded addTicket, and the target of the recorded delayed send.
CART = ADD["sys_invocation"]["rows"][0]["target"].split("/")[1]
SEAT = next(row["service_key"] for row in ADD["state"]["rows"] if row["service_name"] == "TicketObject")
DELAYED = SCHEDULED["sys_invocation"]["rows"][0]["target"]
DELAYED_INPUT = parse_journal(SCHEDULED["sys_journal"]["rows"])[0].value


def restate() -> RecordedRestate:
    return RecordedRestate(
        invocations=ADD["sys_invocation"]["rows"] + SCHEDULED["sys_invocation"]["rows"],
        journals={ADD_ID: ADD_JOURNAL, SCHEDULED_ID: SCHEDULED["sys_journal"]["rows"]},
        state=ADD["state"]["rows"],
        outputs={ADD_ID: True},
    )


def client(answer: Callable[[httpx.Request], httpx.Response]) -> AdminIngressClient:
    return AdminIngressClient("http://restate:9070", "http://restate:8080", transport=httpx.MockTransport(answer))


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
    entries = parse_journal(ADD_JOURNAL)
    call = next(e for e in entries if e.entry_type == "Command: Call")
    assert call.target == f"TicketObject/{SEAT}/reserve"
    assert call.callee_id is not None
    assert call.callee_id.startswith("inv_")
    assert call.completed is True
    delayed = next(e for e in entries if e.entry_type == "Command: OneWayCall")
    assert delayed.target == f"CartObject/{CART}/expireTicket"
    assert delayed.wake_up_at is not None  # the time the delayed call runs
    assert [e.name for e in entries if "State" in e.entry_type] == ["tickets", "tickets"]
    notifications = [e for e in entries if not e.is_command]
    assert notifications
    assert all(e.completed is None for e in notifications)


def test_an_unfinished_call_is_waiting():
    rows = [row for row in ADD_JOURNAL if row["entry_type"] != "Notification: Call"]
    call = next(e for e in parse_journal(rows) if e.entry_type == "Command: Call")
    assert call.completed is False


def test_invocations_state_and_timers_are_read_from_rows():
    rec = restate()
    api = client(rec)

    invocation = api.invocation(ADD_ID)
    assert invocation is not None
    assert (invocation.target, invocation.status, invocation.active) == (
        f"CartObject/{CART}/addTicket",
        "completed",
        False,
    )
    assert [inv.id for inv in api.invocations()] == [ADD_ID, SCHEDULED_ID]  # newest first
    assert api.state("CartObject", CART) == {"tickets": [SEAT]}
    assert api.service_state("TicketObject") == {SEAT: {"status": "RESERVED"}}
    assert api.states([("CartObject", CART), ("CartObject", "Nobody")]) == {
        ("CartObject", CART): {"tickets": [SEAT]},
        ("CartObject", "Nobody"): {},
    }
    (timer,) = api.timers()
    assert (timer.kind, timer.target, timer.invocation_id) == (
        "delayed call",
        DELAYED,
        SCHEDULED_ID,
    )
    assert timer.fires_at is not None
    assert timer.fires_at > time.mktime(time.strptime("2026-01-01", "%Y-%m-%d"))
    assert timer.argument == DELAYED_INPUT
    assert DELAYED_INPUT.startswith("seat")
    assert api.output(ADD_ID) is True


def test_the_input_of_a_delayed_call_is_read_once():
    rec = restate()
    api = client(rec)
    first = api.timers()
    again = api.timers()
    assert first == again
    assert first[0].argument == DELAYED_INPUT
    assert sum("FROM sys_journal" in query for query in rec.queries()) == 1
    assert len(rec.queries()) == 3  # the unfinished invocations twice, the input once


def test_a_delayed_call_sent_by_a_journal_read_anyway_costs_no_input_query():
    rec = restate()
    api = client(rec)
    send = next(entry for entry in parse_journal(ADD_JOURNAL) if entry.kind == "OneWayCall")
    sent_here = dataclasses.replace(send, callee_id=SCHEDULED_ID, payload=b'"seat-from-the-send"')

    (timer,) = api.timers(lambda: [sent_here])
    assert timer.argument == "seat-from-the-send"
    assert not any("FROM sys_journal" in query for query in rec.queries())

    def not_needed() -> list[JournalEntry]:
        raise AssertionError("every input is known: the senders are not asked")

    assert api.timers(not_needed) == [timer]


def test_a_delayed_call_sent_elsewhere_has_its_input_read():
    rec = restate()
    api = client(rec)
    other_send = next(entry for entry in parse_journal(ADD_JOURNAL) if entry.kind == "OneWayCall")
    assert other_send.callee_id != SCHEDULED_ID
    (timer,) = api.timers(lambda: [other_send])
    assert timer.argument == DELAYED_INPUT
    assert sum("FROM sys_journal" in query for query in rec.queries()) == 1


def test_a_cart_and_every_ticket_are_one_query():
    rec = restate()
    api = client(rec)
    assert api.states([("CartObject", CART), ("CartObject", "Nobody")], services=("TicketObject",)) == {
        ("CartObject", CART): {"tickets": [SEAT]},
        ("CartObject", "Nobody"): {},
        ("TicketObject", SEAT): {"status": "RESERVED"},
    }
    assert len(rec.queries()) == 1


def test_sql_text_is_quoted():
    rec = restate()
    client(rec).invocation("inv_x' OR '1'='1")
    (query,) = rec.queries()
    assert query.endswith("FROM sys_invocation WHERE id = 'inv_x'' OR ''1''=''1'")


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


def test_restate_down_is_a_lab_error_saying_what_to_do(offline_lab):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    api = client(down)
    for ask in (
        lambda: api.call("CartObject", "Mary", "addTicket", "seat2B"),
        lambda: api.send("CartObject", "Mary", "addTicket", "seat2B"),
        lambda: api.attach("inv_1", timeout=1),
        lambda: api.state("CartObject", "Mary"),
        lambda: api.register("http://127.0.0.1:9080"),
        lambda: api.cancel("inv_1"),
    ):
        with pytest.raises(RestateUnreachableError) as raised:
            ask()
        assert isinstance(raised.value, LabError)
        assert "Restate does not answer at http://restate:" in str(raised.value)
        assert "Connection refused" in str(raised.value)
        assert "re-run the chapter's first cell" in str(raised.value).lower()
        assert raised.value.__cause__ is None  # the message, not httpx's traceback
    lab = offline_lab(down)
    with pytest.raises(RestateUnreachableError, match=r"lab\.restart_server\(\)"):
        lab.call("CartObject", "Mary", "addTicket", "seat2B")
    with pytest.raises(RestateUnreachableError):
        lab.state("CartObject", "Mary")


def test_a_call_without_an_answer_in_time_is_an_invocation_timeout():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    api = client(slow)
    with pytest.raises(InvocationTimeoutError, match=r"CartObject/addTicket gave no answer within 2 s"):
        api.call("CartObject", "Mary", "addTicket", "seat2B", timeout=2)
    with pytest.raises(InvocationTimeoutError, match="inv_1 did not finish within 3 s") as raised:
        api.attach("inv_1", timeout=3)
    assert raised.value.invocation_id == "inv_1"
    with pytest.raises(RestateUnreachableError, match="timed out"):  # a query is not waiting for a handler
        api.query("SELECT 1")


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
        board.view.seats = [SEAT]
        board.view.user = CART
        rec.requests.clear()
        board.refresh()

        assert [p.last_error for p in board.panels] == [None] * len(board.panels)
        assert f"TicketObject/{SEAT}/reserve" in board.journal.table.value
        assert board.state.data == {
            f"CartObject/{CART}": {"tickets": [SEAT]},
            f"TicketObject/{SEAT}": {"status": "RESERVED"},
        }
        assert DELAYED in board.timers.table.value
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


# -- what an invocation waits for, and failures in words -----------------------------------------------


def _case(name: str) -> tuple[Invocation, list[JournalEntry]]:
    rows = recorded(name)
    return Invocation.from_row(rows["sys_invocation"]["rows"][0]), parse_journal(rows["sys_journal"]["rows"])


def test_what_an_invocation_waits_for_is_read_from_its_journal():
    workflow, journal = _case("workflow_waiting_on_promise")
    assert waiting_for(workflow, journal).startswith("promise 'payment' or a timer (until ")
    assert [entry.summary for entry in journal if entry.kind in ("GetPromise", "Run")] == [
        "step 'request payment'",
        "result of step 'request payment'",
        "promise 'payment'",
    ]
    assert waiting_for(*_case("awakeable_waiting")).startswith("an awakeable or a timer")
    assert waiting_for(*_case("sleeping_running")).startswith("a timer (until ")
    assert waiting_for(*_case("workflow_promise_completed")) is None  # done


def test_a_cancel_and_its_signals_read_as_words():
    _cancelled, journal = _case("cancelled")
    assert "the cancel signal" in [entry.summary for entry in journal]
    assert "cancel a callee" in [entry.summary for entry in journal]
    resolved = [entry.summary for entry in _case("awakeable_resolved")[1]]
    assert "an awakeable completed" in resolved


def test_failures_read_as_the_exception_or_the_mismatch():
    backing_off, _journal = _case("backing_off")
    assert backing_off.failure.startswith("ConnectionError")
    mismatch, _journal = _case("journal_mismatch")
    assert mismatch.failure == (
        "Journal mismatch: the journal has 'run' (index 1), this attempt does 'call' (the code took another path)"
    )


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the clock-tick mark is read from /proc")
def test_a_kernel_stays_alive_to_the_sweepers_when_the_wall_clock_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    # The start-up sweeps (data dirs, Docker containers) keep what a live kernel owns: its start mark
    # must not move when NTP or a resumed VM steps the clock (psutil's create_time would).
    import os
    import subprocess
    import sys

    import psutil

    from tourlab._process import start_mark, still_running

    mark = start_mark(os.getpid())
    monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: time.time() - 5.0)  # type: ignore[attr-defined]
    assert start_mark(os.getpid()) == mark
    assert still_running(os.getpid(), mark)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child_mark = start_mark(child.pid)
    child.wait()
    assert child_mark not in (None, mark)
    assert not still_running(child.pid, child_mark)


@pytest.fixture
def port_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import tourlab._ports

    monkeypatch.setattr(tourlab._ports, "REGISTRY", tmp_path / "ports.json")
    return tmp_path / "ports.json"


def test_free_ports_are_outside_the_ephemeral_range_and_reserved_across_processes(port_registry: Path) -> None:
    # Jupyter picks kernel ports with bind(0), inside the ephemeral range; ours never land there, and
    # a port handed to one process (a test worker, a kernel) is not handed to another while reserved.
    import json
    import subprocess
    import sys

    from tourlab._ports import candidate_ports, ephemeral_range, free_port

    low, high = ephemeral_range()
    mine = free_port()
    assert mine in candidate_ports()
    assert not low <= mine <= high
    script = (
        "import json, sys, tourlab._ports as p; from pathlib import Path; p.REGISTRY = Path(sys.argv[1]); "
        "print(json.dumps([p.free_port() for _ in range(200)]))"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, str(port_registry)], capture_output=True, text=True, check=True
    )
    theirs = json.loads(other.stdout)
    assert len(set(theirs)) == 200
    assert mine not in theirs
    assert set(json.loads(port_registry.read_text())) == {str(port) for port in [mine, *theirs]}


def test_a_reserved_or_bound_port_is_skipped_and_an_expired_reservation_dropped(
    port_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import random
    import socket

    from tourlab._ports import bind_listener, candidate_ports, ephemeral_range, free_port

    first, second, third, *_ = list(candidate_ports())[100:110]
    monkeypatch.setattr(random, "sample", lambda population, k: [first, second, third])
    port_registry.write_text(json.dumps({str(first): time.time() + 60, "1": time.time() - 1}))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", second))
        assert free_port() == third
        assert set(json.loads(port_registry.read_text())) == {str(first), str(third)}  # "1" had expired

    listener = bind_listener("127.0.0.1", 0)  # first and third reserved: the only one left is second
    with listener:
        assert listener.getsockname()[1] == second
    low, high = ephemeral_range()
    assert low <= free_port() <= high  # all three reserved now: the system picks one, as before
