"""The journal, timer and diagnosis model on every recorded case, with no server: rows from a real restate-server."""

from __future__ import annotations

import httpx
import pytest
from support import RecordedRestate, recorded

from tourlab import Invocation, JournalEntry
from tourlab._client import AdminIngressClient
from tourlab._diagnose import why_stuck
from tourlab._model import parse_journal, waiting_for

pytestmark = pytest.mark.unit


def _case(name: str) -> tuple[Invocation, list[JournalEntry], AdminIngressClient]:
    """The recorded invocation, its parsed journal, and a client that answers from the recording."""
    rows = recorded(name)
    invocation = Invocation.from_row(rows["sys_invocation"]["rows"][0])
    journal = rows["sys_journal"]["rows"]
    restate = RecordedRestate(invocations=rows["sys_invocation"]["rows"], journals={invocation.id: journal})
    api = AdminIngressClient("http://restate:9070", "http://restate:8080", transport=httpx.MockTransport(restate))
    return invocation, parse_journal(journal), api


def _types(entries: list[JournalEntry]) -> list[str]:
    return [e.entry_type for e in entries]


def test_run_steps_are_commands_named_after_the_step_with_their_results_journaled():
    invocation, entries, _ = _case("run_steps_completed")
    assert invocation.status == "completed"
    steps = [e for e in entries if e.entry_type == "Command: Run"]
    assert [(e.name, e.completed) for e in steps] == [("payment", True), ("email", True)]
    results = [e.value for e in entries if e.entry_type == "Notification: Run"]
    assert results == [True, True]
    assert waiting_for(invocation, entries) is None


def test_a_suspended_sleep_waits_for_its_timer_and_is_listed_as_one():
    invocation, entries, api = _case("sleeping_suspended")
    assert invocation.status == "suspended"
    sleep = next(e for e in entries if e.entry_type == "Command: Sleep")
    assert sleep.completed is False
    assert sleep.wake_up_at is not None
    assert (waiting_for(invocation, entries) or "").startswith("a timer (until ")
    assert [(t.kind, t.target, t.invocation_id) for t in api.timers()] == [("sleep", "Sleeper/nap", invocation.id)]
    assert why_stuck(api, invocation) is None  # waiting is not failing


def test_a_terminal_failure_completes_with_its_code_after_the_compensations():
    invocation, entries, api = _case("terminal_failure")
    assert (invocation.status, invocation.active) == ("completed", False)
    assert invocation.completion_result == "failure"
    assert (invocation.completion_failure or "").startswith("[402] card of ")
    steps = [e.name for e in entries if e.entry_type == "Command: Run"]
    assert steps == ["charge", "refund"]  # the refund ran after the failed charge, in the journal
    calls = [e.target or "" for e in entries if e.entry_type == "Command: Call"]
    assert [t.rsplit("/", 1)[1] for t in calls] == ["reserve", "unreserve"]
    assert why_stuck(api, invocation) is None  # finished, even though it failed


def test_a_shared_workflow_handler_completes_the_promise_and_another_peeks_at_it():
    _, confirm, _ = _case("workflow_confirm_payment")
    complete = next(e for e in confirm if e.entry_type == "Command: CompletePromise")
    assert (complete.name, complete.value) == ("payment", {"payment_id": "pay-1", "amount": 40})
    assert complete.summary == "complete promise 'payment'"

    _, status, _ = _case("workflow_status_peek_promise")
    assert _types(status)[1:3] == ["Command: PeekPromise", "Notification: PeekPromise"]
    peek = status[1]
    assert (peek.name, peek.completed) == ("payment", True)
    output = next(e for e in status if e.entry_type == "Command: Output")
    assert output.value["status"] == "waiting for payment"


def test_a_paused_invocation_is_stuck_by_itself_and_not_transient():
    invocation, entries, api = _case("paused")
    assert invocation.status == "paused"
    refund = entries[-1]
    assert (refund.entry_type, refund.name, refund.completed) == ("Command: Run", "refund", False)
    stuck = why_stuck(api, invocation)
    assert stuck is not None
    assert (stuck.relation, stuck.culprit.id, stuck.transient) == ("itself", invocation.id, False)
    assert "lab.resume(" in str(stuck)


def test_a_backing_off_step_is_a_transient_failure_of_the_invocation_itself():
    invocation, entries, api = _case("backing_off")
    assert invocation.status == "backing-off"
    assert invocation.failure.startswith("ConnectionError: payment provider unreachable")
    assert waiting_for(invocation, entries) == "step 'charge'"
    stuck = why_stuck(api, invocation)
    assert stuck is not None
    assert (stuck.relation, stuck.transient) == ("itself", True)
    # Listed from the base table, which says "running": the list reads it again from the view.
    [listed] = [inv for inv in api.invocations() if inv.id == invocation.id]
    assert listed == invocation


def test_a_journal_mismatch_names_the_entry_the_new_code_did_not_replay():
    invocation, entries, api = _case("hot_reload_mismatch")
    assert invocation.status == "backing-off"
    assert invocation.failure.startswith("Journal mismatch: the journal has 'sleep' (index 2)")
    assert _types(entries)[-2:] == ["Command: Sleep", "Notification: Sleep"]
    stuck = why_stuck(api, invocation)
    assert stuck is not None
    assert (stuck.relation, stuck.transient) == ("itself", False)  # a code change, not a passing fault
