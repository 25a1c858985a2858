"""The one rule for following an invocation, on rows recorded from a real restate-server (no server here).

``follow`` asks what blocks an invocation once it has been unfinished for ``DIAGNOSE_AFTER`` seconds,
then every ``DIAGNOSE_EVERY``; a passing failure is not stuck, a bug-like, paused or deadlocked one is.
The clock of the rule is passed in, so no test here measures time.
"""

from __future__ import annotations

import httpx
import pytest
from support import RecordedRestate, recorded

from tourlab import Invocation, _follow
from tourlab._client import AdminIngressClient
from tourlab._diagnose import why_stuck
from tourlab._follow import DIAGNOSE_AFTER, DIAGNOSE_EVERY, Cadence, Followed, follow

pytestmark = pytest.mark.unit

CASES = {name: recorded(name) for name in ("add_ticket_completed", "backing_off", "paused", "suspended")}


def _row(name: str) -> dict[str, object]:
    row: dict[str, object] = CASES[name]["sys_invocation"]["rows"][0]
    return row


def _invocation(name: str) -> Invocation:
    return Invocation.from_row(_row(name))


def _id(name: str) -> str:
    return str(CASES[name]["invocation_id"])


def _restate() -> RecordedRestate:
    return RecordedRestate(
        invocations=[_row(name) for name in CASES],
        journals={_id(name): CASES[name]["sys_journal"]["rows"] for name in CASES},
    )


def _client(restate: RecordedRestate) -> AdminIngressClient:
    return AdminIngressClient("http://restate:9070", "http://restate:8080", transport=httpx.MockTransport(restate))


# -- when to ask what blocks an invocation ------------------------------------------------------------


def test_a_failing_invocation_gets_the_same_grace_as_a_quiet_one() -> None:
    # Restate retries after 0.5 s and the retry may succeed: no verdict on a single failure.
    for name in ("backing_off", "suspended"):
        cadence = Cadence(started=100.0)
        invocation = _invocation(name)
        assert not cadence.due(invocation, 100.0), name
        assert not cadence.due(invocation, 100.0 + DIAGNOSE_AFTER / 2), name
        assert cadence.due(invocation, 100.0 + DIAGNOSE_AFTER), name


def test_after_the_first_diagnosis_one_follows_every_period() -> None:
    cadence = Cadence(started=100.0)
    paused = _invocation("paused")
    first = 100.0 + DIAGNOSE_AFTER
    assert cadence.due(paused, first)
    assert not cadence.due(paused, first + DIAGNOSE_EVERY / 2)
    assert cadence.due(paused, first + DIAGNOSE_EVERY)
    assert not cadence.due(paused, first + DIAGNOSE_EVERY * 1.5)


def test_a_completed_invocation_is_never_diagnosed() -> None:
    cadence = Cadence(started=100.0)
    assert not cadence.due(_invocation("add_ticket_completed"), 100.0 + 60)


# -- what counts as stuck -----------------------------------------------------------------------------


def test_a_passing_failure_is_not_stuck_but_a_pause_is() -> None:
    client = _client(_restate())
    retrying = why_stuck(client, _invocation("backing_off"))
    paused = why_stuck(client, _invocation("paused"))
    assert retrying is not None
    assert paused is not None
    assert "ConnectionError" in retrying.culprit.failure
    assert not Followed(_invocation("backing_off"), retrying).blocked
    assert Followed(_invocation("paused"), paused).blocked


# -- following ------------------------------------------------------------------------------------------


@pytest.fixture
def no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Diagnose from the first round on: the recorded rows never change, so waiting shows nothing new."""
    monkeypatch.setattr(_follow, "DIAGNOSE_AFTER", 0.0)


def test_following_a_completed_invocation_reads_only_its_row() -> None:
    restate = _restate()
    polled = follow(_client(restate), _id("add_ticket_completed"), timeout=5.0)
    assert polled.ok
    assert polled.value.finished
    assert polled.value.stuck is None
    assert len(restate.queries()) == 1
    assert "sys_journal" not in restate.queries()[0]


def test_following_a_paused_invocation_ends_with_what_blocks_it(no_grace: None) -> None:
    polled = follow(_client(_restate()), _id("paused"), timeout=30.0)
    assert polled.ok
    assert polled.value.blocked
    assert polled.value.diagnosed
    assert polled.value.stuck is not None
    assert polled.value.stuck.relation == "itself"
    assert not polled.value.finished


def test_a_passing_failure_is_followed_until_the_time_runs_out_and_then_reported(no_grace: None) -> None:
    polled = follow(_client(_restate()), _id("backing_off"), timeout=0.05, interval=0.01)
    assert not polled.ok
    assert not polled.value.blocked
    assert polled.value.stuck is not None
    assert polled.value.stuck.transient
    assert "payment provider unreachable" in str(polled.value.stuck)


def test_a_blocked_invocation_can_be_followed_on_until_the_caller_stops(no_grace: None) -> None:
    rounds: list[Followed] = []

    def seen(followed: Followed) -> bool:
        rounds.append(followed)
        return len(rounds) == 3

    polled = follow(_client(_restate()), _id("paused"), timeout=30.0, until=seen, stop_when_blocked=False)
    assert polled.ok
    assert len(rounds) == 3
    assert all(r.blocked for r in rounds)
    assert rounds[0].diagnosed


def test_the_callers_own_answer_ends_the_following_without_a_query() -> None:
    restate = _restate()
    polled = follow(_client(restate), _id("paused"), timeout=30.0, answer=lambda _seconds: True)
    assert polled.ok
    assert polled.value.answered
    assert polled.value.finished
    assert restate.queries() == []


def test_an_invocation_not_seen_yet_is_looked_for_again() -> None:
    found: list[Invocation | None] = [None, None, _invocation("add_ticket_completed")]
    polled = follow(_client(_restate()), lambda: found.pop(0), timeout=30.0, interval=0.001)
    assert polled.ok
    assert polled.value.finished
    assert found == []
