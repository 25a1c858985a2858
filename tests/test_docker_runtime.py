"""The Docker runtime for real: no orphan containers, nothing listening beyond this machine.

Every lab here runs in a subprocess (one lab per process, as in a kernel) against the real engine.
Whatever a test leaves behind is removed by the start-up sweep at teardown: containers of this
machine whose owner process is gone.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import docker as docker_sdk
import psutil
import pytest
from support import docker, eventually, needs_docker_engine

from tourlab import _config
from tourlab._runtimes import images
from tourlab._runtimes.docker import (
    OWNER_HOST_LABEL,
    OWNER_PID_LABEL,
    OWNER_STARTED_LABEL,
    engine_bind_host,
    host_identity,
    owner_labels,
    sweep_orphans,
)

pytestmark = [pytest.mark.docker, needs_docker_engine]

LOOPBACK = {"127.0.0.1", "::1"}


@pytest.fixture
def engine() -> Iterator[Any]:
    """A Docker client; at teardown, containers of kernels that are gone are removed."""
    client = docker_sdk.from_env()
    yield client
    sweep_orphans(client)
    client.close()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTATE_", "TOURLAB_", "TESTCONTAINERS_"))}
    return {**env, **extra}


def load_bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, _config.PROJECT_ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def restate_image() -> str:
    """The image the runtime uses here (the official one or the local stand-in)."""
    version = _config.restate_version()
    root, home = _config.PROJECT_ROOT, _config.LAB_HOME
    return images.choose_restate_image(root, version, _config.docker_image(), state_dir=home / "docker").image


# -- which image ------------------------------------------------------------------------------------


def test_an_image_that_is_here_is_used_as_the_official_one(tmp_path: Path) -> None:
    present = restate_image()  # stands in for "the official image is here"
    chosen = images.choose_restate_image(
        _config.PROJECT_ROOT, _config.restate_version(), present, state_dir=tmp_path / "docker"
    )
    assert chosen == images.ImageChoice(present, official=True, note=f"{present} (official image)")
    assert not (tmp_path / "docker" / "pull-failed.json").exists()


def test_an_image_that_cannot_be_pulled_is_replaced_by_the_local_stand_in_and_says_why(tmp_path: Path) -> None:
    missing = "tourlab-test-nowhere.invalid/restate:0"  # no registry answers for this name
    version = _config.restate_version()
    pulls: list[str] = []
    chosen = images.choose_restate_image(
        _config.PROJECT_ROOT, version, missing, state_dir=tmp_path / "docker", log=pulls.append
    )
    assert chosen.image == f"tourlab-local/restate:{version}"
    assert not chosen.official
    assert chosen.note.startswith(f"tourlab-local/restate:{version}, a LOCAL STAND-IN for {missing}")
    assert "cannot be pulled" in chosen.note
    assert any(line.startswith(f"pulling {missing}") for line in pulls)
    # The stand-in is the pinned npm server, labelled as such; the failed pull is not repeated soon.
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", chosen.image).stdout)
    assert labels[f"{images.LABEL}.version"] == version
    again: list[str] = []
    assert (
        images.choose_restate_image(
            _config.PROJECT_ROOT, version, missing, state_dir=tmp_path / "docker", log=again.append
        )
        == chosen
    )
    assert not any(line.startswith("pulling") for line in again)


# -- no orphans ---------------------------------------------------------------------------------------


def test_sigkilled_kernels_leave_no_containers(engine: Any) -> None:
    bench = load_bench("docker_orphans")
    run = bench.kill_kernels(10, timeout=120)
    assert run.kernels == 10
    assert run.containers_at_kill >= run.killed_ready  # the ready ones surely had a container
    assert run.left == [], f"{len(run.left)} of 10 killed kernels left their container: {run.left}"
    # Each reaper ends on its own once its grace period is over.
    assert eventually(lambda: not bench.reapers_of(run.pids), timeout=60, interval=0.5)


def test_the_start_up_sweep_removes_containers_of_dead_kernels_only(engine: Any) -> None:
    image = restate_image()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead_owner = {
        OWNER_PID_LABEL: str(gone.pid),
        OWNER_STARTED_LABEL: "1.000",
        OWNER_HOST_LABEL: host_identity(),
    }
    created = []
    try:
        for labels in (dead_owner, owner_labels()):
            flags = [flag for item in labels.items() for flag in ("--label", "=".join(item))]
            made = docker("create", *flags, image)
            assert made.returncode == 0, made.stderr
            created.append(made.stdout.strip())
        orphan, ours = created
        removed = sweep_orphans(engine)
        assert docker("inspect", orphan).returncode != 0
        assert docker("inspect", ours).returncode == 0  # this process is alive: its container stays
        assert len(removed) >= 1
    finally:
        for container in created:
            docker("rm", "-f", container)


def test_a_container_removed_during_the_sweep_does_not_fail_it(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The docker client lists ids, then inspects each: a reaper (or another lab's sweep) can remove one
    # in between. This forces that moment: the first inspect finds its container removed just before.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    labels = {OWNER_PID_LABEL: str(gone.pid), OWNER_STARTED_LABEL: "1.000", OWNER_HOST_LABEL: host_identity()}
    made = docker("create", *[f for item in labels.items() for f in ("--label", "=".join(item))], restate_image())
    assert made.returncode == 0, made.stderr
    vanishing = made.stdout.strip()
    collection = type(engine.containers)  # a new collection object on every access: patch its class
    inspect = collection.get
    raced: list[str] = []

    def removed_just_before(self: Any, container_id: str) -> Any:
        if container_id == vanishing:
            raced.append(docker("rm", "-f", vanishing).stdout.strip())
        return inspect(self, container_id)

    monkeypatch.setattr(collection, "get", removed_just_before)
    try:
        removed = sweep_orphans(engine)  # raised docker.errors.NotFound before
    finally:
        docker("rm", "-f", vanishing)
    assert raced == [vanishing]  # the sweep did meet a container removed under it
    assert isinstance(removed, list)
    assert docker("inspect", vanishing).returncode != 0


# -- nothing exposed beyond this machine ------------------------------------------------------------

LISTENING_LAB = textwrap.dedent(
    """
    import json, os, sys
    from tourlab import Lab
    lab = Lab.start("tour/part1")
    assert lab.call("CartObject", "listen", "addTicket", "seat1") is True
    print(json.dumps({
        "kind": lab.runtime_kind,
        "bind_host": lab.runtime.bind_host,
        "endpoint_port": lab.endpoint.port,
        "traced": lab.traces is not None,
        "container": getattr(lab.runtime, "name", None),
        "restate_ports": [int(url.rsplit(":", 1)[1]) for url in (lab.admin_url, lab.ingress_url)],
    }), flush=True)
    sys.stdin.read()
    lab.stop()
    """
)


def ipv4(address: str) -> str:
    """An IPv4-mapped IPv6 address (gRPC's dual-stack sockets) as the IPv4 address it is."""
    return address.removeprefix("::ffff:") if "." in address else address


def listening(process: psutil.Process) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket of `process` and its descendants."""
    found = set()
    for member in [process, *process.children(recursive=True)]:
        for connection in member.net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN:
                found.add((ipv4(connection.laddr.ip), connection.laddr.port))
    return found


@pytest.mark.parametrize("runtime", ["embedded", "docker"])
def test_nothing_the_lab_starts_listens_beyond_loopback_and_the_bridge(
    runtime: str, tmp_path: Path, engine: Any
) -> None:
    env = clean_env(TOURLAB_RUNTIME=runtime, TOURLAB_HOME=str(tmp_path / "home"))
    kernel = subprocess.Popen(
        [sys.executable, "-c", LISTENING_LAB],
        cwd=_config.PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert kernel.stdout is not None
        line = kernel.stdout.readline()
        assert line, f"the lab did not start (exit code {kernel.wait()})"
        seen = json.loads(line)
        assert seen["kind"] == runtime
        allowed = LOOPBACK | ({engine_bind_host()} if runtime == "docker" else set())
        assert "0.0.0.0" not in allowed
        assert seen["bind_host"] in allowed

        # The kernel (endpoint, trace receiver) and, embedded, its restate-server.
        sockets = listening(psutil.Process(kernel.pid))
        assert (seen["bind_host"], seen["endpoint_port"]) in sockets
        assert len(sockets) >= (2 if seen["traced"] else 1)
        beyond = {(address, port) for address, port in sockets if address not in allowed}
        assert beyond == set(), f"listening beyond loopback and the bridge: {sorted(beyond)}"

        # Restate's published ports: whoever holds them on the host (docker-proxy) holds them on loopback.
        restate_ports = set(seen["restate_ports"])
        on_host = {
            (ipv4(c.laddr.ip), c.laddr.port)
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port in restate_ports
        }
        assert {port for _address, port in on_host} <= restate_ports
        assert {address for address, _port in on_host} <= LOOPBACK, sorted(on_host)
        if runtime == "docker":
            inspected = docker("inspect", "--format", "{{json .HostConfig.PortBindings}}", seen["container"])
            bindings = json.loads(inspected.stdout)
            host_ips = {binding["HostIp"] for found in bindings.values() for binding in found}
            assert host_ips == {"127.0.0.1"}, bindings
            published = docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", seen["container"])
            live = json.loads(published.stdout)
            assert {binding["HostIp"] for found in live.values() if found for binding in found} == {"127.0.0.1"}
    finally:
        if kernel.stdin is not None:
            kernel.stdin.close()
        try:
            kernel.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kernel.kill()
            kernel.wait()
