"""A lab's life cycle at its edges: starting one while one runs, and using one after it stopped."""

from __future__ import annotations

import warnings
from pathlib import Path

import httpx
import pytest
from support import RecordedRestate, recorded

from tourlab import Lab, LabError
from tourlab._endpoint import Endpoint
from tourlab._logs import EndpointLog
from tourlab._runtimes.external import ExternalRestate


def test_start_with_another_runtime_while_a_lab_runs_says_it_kept_the_running_one(lab: Lab, unique) -> None:
    other = ExternalRestate(
        "http://127.0.0.1:9", "http://127.0.0.1:9", endpoint_host="127.0.0.1", bind_host="127.0.0.1"
    )

    with pytest.warns(UserWarning, match="kept the lab already running in this kernel") as warned:
        again = Lab.start("tour/part1", runtime=other)

    assert again is lab
    assert again.runtime is not other
    assert "lab.stop()" in str(warned[0].message)
    assert lab.call("CartObject", unique("Mary"), "addTicket", unique("seat")) is True


def test_start_without_a_runtime_reuses_the_running_lab_quietly(lab: Lab) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Lab.start("tour/part1") is lab
        assert Lab.start("tour/part1", runtime=lab.runtime) is lab


def test_a_stopped_lab_refuses_with_a_lab_error(tmp_path: Path) -> None:
    case = recorded("paused")
    restate = RecordedRestate(invocations=case["sys_invocation"]["rows"])
    runtime = ExternalRestate(
        "http://restate:9070", "http://restate:8080", endpoint_host="127.0.0.1", bind_host="127.0.0.1"
    )
    lab = Lab(
        runtime,
        Endpoint(),
        EndpointLog(tmp_path / "endpoint.log"),
        traces=None,
        tracing_problem="Tracing is off for this lab.",
        transport=httpx.MockTransport(restate),
    )
    assert lab.invocation(case["invocation_id"]) is not None
    lab.stop()
    lab.endpoint_log.uninstall()
    for refused in (
        lambda: lab.call("CartObject", "Mary", "addTicket", "seat2B"),
        lambda: lab.send("CartObject", "Mary", "addTicket", "seat2B"),
        lambda: lab.state("CartObject", "Mary"),
        lambda: lab.invocation(case["invocation_id"]),
        lambda: lab.follow(case["invocation_id"]),
    ):
        with pytest.raises(LabError, match=r"This lab was stopped: start one with Lab\.start"):
            refused()
