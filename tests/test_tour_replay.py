"""Determinism and replay (tour/replay) against a real Restate: what retries see, journal mismatches,
always-replay mode, and the grader of the non-determinism exercise."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from support import eventually, recorded, save_rows

from tourlab import InvocationError, Lab
from tourlab._client import AdminIngressClient
from tourlab._config import PROJECT_ROOT
from tourlab._endpoint import Endpoint
from tourlab._loader import load_app
from tourlab._runtimes import ALWAYS_REPLAY_ENV, FAIL_FAST_ENV, EmbeddedRestate

#: Set to 1 to record the rows of the cases below as fixtures (tests/fixtures/restate_rows/).
RECORD = os.environ.get("TOURLAB_RECORD_ROWS") == "1"
MISMATCH_PREFIX = (
    "[570 Journal mismatch] Found a mismatch between the code paths taken during the previous execution "
    "and the paths taken during this execution.\nThis typically happens when some parts of the code are "
    "non-deterministic.\n"
)


def module(name: str) -> ModuleType:
    """The module the endpoint uses now (the lab re-imports a package on every load)."""
    return importlib.import_module(name)


def row_of(client: AdminIngressClient, invocation_id: str) -> dict[str, Any]:
    return client.query(f"SELECT * FROM sys_invocation WHERE id = '{invocation_id}'")[0]


@dataclass
class ReplayingRestate:
    """A Restate that replays at every suspension point and kills an invocation at its first failure."""

    server: EmbeddedRestate
    endpoint: Endpoint
    client: AdminIngressClient

    def serve(self, app_dir: str) -> None:
        self.endpoint.app.current = load_app(PROJECT_ROOT / app_dir).app
        self.client.register(f"http://127.0.0.1:{self.endpoint.port}")


@pytest.fixture(scope="module")
def replaying() -> Iterator[ReplayingRestate]:
    server = EmbeddedRestate(extra_env={**ALWAYS_REPLAY_ENV, **FAIL_FAST_ENV})
    server.start()
    endpoint = Endpoint()
    endpoint.start()
    client = AdminIngressClient(server.admin_url, server.ingress_url, timeout=20)
    try:
        yield ReplayingRestate(server, endpoint, client)
    finally:
        client.close()
        endpoint.stop()
        server.stop()


@pytest.fixture
def switches(lab: Lab) -> Iterator[ModuleType]:
    lab.load("tour/replay")
    current = module("tour.replay.switches")
    current.reset()
    yield current
    current.reset()


# -- a retry sees new values outside the context; the journal keeps the first ---------------------------


def test_a_retry_draws_new_values_but_the_journal_keeps_the_first(lab: Lab, switches: ModuleType):
    switches.fail_once()
    result = lab.call("SideEffects", None, "draw", timeout=30)

    first, second = (a.values for a in switches.attempts_of(lab.last_invocation_id))
    for name in ("random", "time", "uuid"):
        assert first["outside"][name] != second["outside"][name], name
    assert first["kept"] == second["kept"] == first["outside"]
    assert first["from_ctx"] == second["from_ctx"]
    assert result == {"outside": second["outside"], "kept": first["outside"], "from_ctx": first["from_ctx"]}

    journal = module("tour.replay.journal").run_results(
        lab.query(f"SELECT * FROM sys_journal WHERE id = '{lab.last_invocation_id}'")
    )
    assert journal == {"remember": first["outside"], "timestamp": first["from_ctx"]["time"]}
    assert lab.invocation().status == "completed"


# -- a replay that takes another branch meets a different journal -------------------------------------


def test_taking_another_branch_on_retry_is_a_journal_mismatch_until_the_branch_matches(lab: Lab, switches: ModuleType):
    switches.rig_coin(True, *[False] * 20)  # attempt 1: the discount step; every retry: the call
    switches.fail_once()
    invocation_id = lab.send("Branching", None, "quote")

    def mismatch() -> dict[str, Any] | None:
        row = row_of(lab.client, invocation_id)
        return row if row.get("last_failure_error_code") == "RT0016" else None

    row = eventually(mismatch, timeout=20)
    assert row, row_of(lab.client, invocation_id)
    assert row["status"] in ("backing-off", "running")
    assert row["last_failure"] == (
        MISMATCH_PREFIX + " - The previous execution ran and recorded the following: 'run' (index '1')\n"
        " - The current execution attempts to perform the following: 'call'"
    )
    assert row["last_failure_related_command_type"] == "Call"
    assert row["last_failure_related_command_index"] == 1
    assert row["retry_count"] >= 2
    if RECORD:
        save_rows(
            lab.client.query,
            "journal_mismatch",
            "Branching/quote: attempt 1 took the discount branch (ctx.run 'discount') and failed on purpose; "
            "the retries take the other branch (a call to listPrice): RT0016, backing-off",
            invocation_id,
        )

    switches.rig_coin(True)  # the next attempt takes the journaled branch again
    lab.resume(invocation_id)
    assert lab.wait_for(invocation_id, "completed").completion_result == "success"
    decisions = [a.values["lucky"] for a in switches.attempts_of(invocation_id)]
    assert decisions[0] is True
    assert decisions[-1] is True
    assert False in decisions


@pytest.mark.parametrize("handler", ["quoteSeeded", "quoteJournaled"])
def test_fixed_branches_take_the_same_path_on_every_attempt(lab: Lab, switches: ModuleType, handler: str):
    switches.rig_coin(True, False, True, False)
    switches.fail_once()
    price = lab.call("Branching", None, handler, timeout=30)

    decisions = [a.values["lucky"] for a in switches.attempts_of(lab.last_invocation_id)]
    assert len(decisions) == 2
    assert decisions[0] == decisions[1]
    assert price == (50 if decisions[0] else 100)


# -- always replay: every suspension point replays the handler ---------------------------------------


def test_always_replay_replays_the_handler_at_every_step(replaying: ReplayingRestate):
    replaying.serve("tour/replay")
    switches = module("tour.replay.switches")
    switches.reset()

    replaying.client.call("SideEffects", None, "draw")

    attempts = [a.values for a in switches.attempts_of(replaying.client.last_invocation_id)]
    # Two run steps ("remember" and ctx.time()'s "timestamp"): suspended after each, three attempts.
    # Each attempt gets one step further before it suspends.
    assert [sorted(a) for a in attempts] == [["outside"], ["kept", "outside"], ["from_ctx", "kept", "outside"]]
    assert len({a["outside"]["uuid"] for a in attempts}) == 3
    assert attempts[1]["kept"] == attempts[2]["kept"] == attempts[0]["outside"]
    assert row_of(replaying.client, replaying.client.last_invocation_id).get("retry_count") is None


@pytest.mark.parametrize(
    ("coin", "recorded", "attempted"), [((True, False), "run", "call"), ((False, True), "call", "run")]
)
def test_always_replay_shows_the_branch_bug_on_the_first_call(
    replaying: ReplayingRestate, coin: tuple[bool, bool], recorded: str, attempted: str
):
    replaying.serve("tour/replay")
    switches = module("tour.replay.switches")
    switches.reset()
    switches.rig_coin(*coin)  # no injected failure: the replay after the first step flips the branch

    with pytest.raises(InvocationError) as failure:
        replaying.client.call("Branching", None, "quote")

    assert failure.value.status_code == 570
    assert f"recorded the following: '{recorded}' (index '1')" in str(failure.value)
    row = row_of(replaying.client, replaying.client.last_invocation_id)
    assert row["status"] == "completed"
    assert row["completion_result"] == "failure"
    assert row["completion_failure"].startswith("[570] Found a mismatch between the code paths")
    assert f"attempts to perform the following: '{attempted}'" in row["completion_failure"]


@pytest.mark.parametrize("handler", ["quoteSeeded", "quoteJournaled"])
def test_always_replay_passes_the_fixed_branches(replaying: ReplayingRestate, handler: str):
    replaying.serve("tour/replay")
    switches = module("tour.replay.switches")
    switches.reset()
    switches.rig_coin(True, False, True, False)

    price = replaying.client.call("Branching", None, handler)

    decisions = {a.values["lucky"] for a in switches.attempts_of(replaying.client.last_invocation_id)}
    assert len(decisions) == 1
    assert price == (50 if decisions.pop() else 100)


# -- the exercise: find the non-determinism in the checkout ------------------------------------------

WRONG_FIXES = {
    "tour/replay/wrong_fixes/module_key": "payment keys",
    "tour/replay/wrong_fixes/seeded": "Found a mismatch",
    "tour/replay/wrong_fixes/half": "was never charged",
    "tour/replay/wrong_fixes/user_key": "payment keys",
}


def _grade(replaying: ReplayingRestate, app_dir: str) -> list[str]:
    replaying.serve(app_dir)
    grading = module("tour.replay.grading")
    return grading.check_checkout(lambda order: replaying.client.call("DiscountCheckout", None, "handle", order))


def test_the_solution_passes_the_grader(replaying: ReplayingRestate):
    assert _grade(replaying, "tour/replay/solution") == []


def test_the_exercise_fails_the_grader(replaying: ReplayingRestate):
    problems = _grade(replaying, "tour/replay/exercise")
    assert problems
    assert any("Found a mismatch" in p or "never charged" in p for p in problems), problems


@pytest.mark.parametrize(("app_dir", "symptom"), WRONG_FIXES.items(), ids=lambda v: v.rsplit("/", 1)[-1])
def test_each_wrong_fix_fails_the_grader_in_its_own_way(replaying: ReplayingRestate, app_dir: str, symptom: str):
    problems = _grade(replaying, app_dir)
    assert any(symptom in p for p in problems), problems


def test_without_always_replay_the_half_fix_looks_correct(lab: Lab):
    # Why the grader needs always-replay: on a normal Restate, with one order per user, the half fix
    # (uuid4 outside the context) never replays and looks correct.
    lab.load("tour/replay/wrong_fixes/half")
    grading = module("tour.replay.grading")
    problems = grading.check_checkout(lambda order: lab.call("DiscountCheckout", None, "handle", order), orders=3)
    assert problems == []


# -- recorded rows --------------------------------------------------------------------------------


def test_recorded_rows_describe_their_case():
    def invocation(recorded: dict[str, Any]) -> dict[str, Any]:
        (row,) = recorded["sys_invocation"]
        return row

    expected = {
        "journal_mismatch": lambda r: invocation(r)["last_failure_error_code"] == "RT0016",
        "hot_reload_mismatch": lambda r: invocation(r)["last_failure_related_command_name"] == "discount",
        "suspended": lambda r: invocation(r)["status"] == "suspended",
        "pinned_old_deployment": lambda r: (
            invocation(r)["pinned_deployment_id"] != r["sys_service"][0]["deployment_id"]
        ),
    }
    for name, check in expected.items():
        rows = {table: found["rows"] for table, found in recorded(name).items() if isinstance(found, dict)}
        assert recorded(name)["case"], name
        assert check(rows), name
        assert [entry["index"] for entry in rows["sys_journal"]] == list(range(len(rows["sys_journal"])))
        assert rows["sys_journal"][0]["entry_type"] == "Command: Input"
