"""The lab's API for what comes after the tour: workflows, awakeables, deployments, always replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from support import eventually

from tourlab import PROJECT_ROOT, InvocationError, Lab, LabError


def test_a_workflow_runs_once_per_id_and_its_result_can_be_attached(lab: Lab, unique):
    lab.load("tour/part5")
    order_id = unique("order")
    order = {"user_id": unique("Ann"), "tickets": [unique("seat")]}

    first = lab.submit("CheckoutWorkflow", order_id, order)
    again = lab.submit("CheckoutWorkflow", order_id, order)

    assert (first.status, again.status) == ("Accepted", "PreviouslyAccepted")
    assert again.invocation_id == first.invocation_id
    with pytest.raises(InvocationError, match="not finished yet") as early:
        lab.output(f"CheckoutWorkflow/{order_id}")
    assert early.value.status_code == 470
    # The run starts a moment after the submission was accepted.
    assert eventually(lambda: lab.call("CheckoutWorkflow", order_id, "status")["status"] == "waiting for payment")
    lab.call("CheckoutWorkflow", order_id, "confirmPayment", {"payment_id": "p-1", "amount": 40})
    assert lab.attach(f"CheckoutWorkflow/{order_id}", timeout=15) is True
    assert lab.output(f"CheckoutWorkflow/{order_id}") is True
    assert lab.output(first.invocation_id) is True


def test_an_awakeable_is_completed_from_outside(lab: Lab, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "600")
    lab.load("tour/part7")
    user, seat = unique("Mary"), unique("seat")
    lab.call("CartObject", user, "addTicket", seat)
    waiting = lab.send("CartObject", user, "checkoutWithProvider")
    awakeable = eventually(lambda: lab.state("CartObject", user).get("pending_payment"))
    assert str(awakeable).startswith("sign_")
    assert "an awakeable" in (eventually(lambda: lab.waiting_for(waiting)) or "")

    lab.reject_awakeable(awakeable, "card declined by hand")

    assert lab.attach(waiting, timeout=15) is False  # the reference treats a rejection as "not paid"
    with pytest.raises(InvocationError, match="bad awakeable id"):
        lab.resolve_awakeable("sign_bogus", True)


def test_a_new_deployment_takes_new_invocations_while_old_ones_finish_on_theirs(lab: Lab, unique):
    # Deployments of their own (the hot-reload one may carry other tests' unfinished invocations).
    v1 = lab.deploy("tour/versions/v1")
    checkout = {"user_id": unique("Ann"), "tickets": ["seat1", "seat2"]}
    sleeping = lab.send("OrderService", None, "checkout", checkout)
    lab.wait_for(sleeping, "running", "suspended", timeout=10)

    v2 = lab.deploy("tour/versions/v2")

    assert v2.status == "active"
    old = next(d for d in lab.deployments() if d.id == v1.id)
    assert (old.status, old.pinned) == ("draining", 1)
    with pytest.raises(LabError, match="still has 1 unfinished invocation"):
        lab.remove_deployment(v1.id)
    assert lab.call("OrderService", None, "checkout", checkout, timeout=60)["version"] == "v2"
    assert lab.attach(sleeping, timeout=60)["version"] == "v1"
    assert next(d for d in lab.deployments() if d.id == v1.id).status == "drained"

    lab.remove_deployment(v1.id)  # drained: it can go
    lab.remove_deployment(v2.id)
    assert {v1.id, v2.id}.isdisjoint(d.id for d in lab.deployments())


ALWAYS_REPLAY = textwrap.dedent(
    """
    import importlib, json
    from tourlab import InvocationError, Lab

    lab = Lab.start("tour/replay")
    switches = importlib.import_module("tour.replay.switches")  # the copy the loaded handlers read
    switches.rig_coin(True, False)  # lucky, then unlucky: a replay would take the other branch
    seen = {"normal": lab.call("Branching", None, "quote")}
    replaying = Lab.start("tour/replay", always_replay=True)
    switches = importlib.import_module("tour.replay.switches")
    seen["same_lab"] = replaying is lab
    seen["always_replay"] = replaying.always_replay
    switches.rig_coin(True, *[False] * 20)
    try:
        replaying.call("Branching", None, "quote", timeout=5)
    except InvocationError as failed:
        seen["replayed"] = str(failed)
    replaying.stop()
    print(json.dumps(seen, default=str))
    """
)


def test_always_replay_starts_a_fresh_lab_where_a_branch_on_chance_breaks_at_once(tmp_path):
    # One lab per process: a lab of its own, so the session's lab keeps running.
    done = subprocess.run(
        [sys.executable, "-c", ALWAYS_REPLAY],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TOURLAB_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["normal"] == 50  # without replays nothing takes the other branch
    assert (seen["same_lab"], seen["always_replay"]) == (False, True)
    assert "Journal mismatch: the journal has" in seen["replayed"]
