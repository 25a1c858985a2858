"""The embedded restate-server: start, stop, restart, ports, orphans and missing binaries."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import eventually

from tourlab import RestateUnreachableError, ServerNotInstalledError
from tourlab._client import AdminIngressClient
from tourlab._config import CLI_PACKAGE, PROJECT_ROOT, SERVER_PACKAGE, cli_binary, npm_binary, server_binary
from tourlab._process import pid_alive, start_mark
from tourlab._runtimes import EmbeddedRestate, images
from tourlab._runtimes.embedded import clean_stale_data_dirs


def test_start_serves_admin_and_ingress_then_stop_removes_everything():
    server = EmbeddedRestate()
    server.start()
    try:
        assert httpx.get(f"{server.admin_url}/health").status_code == 200
        assert httpx.get(f"{server.ingress_url}/restate/health").status_code == 200
        assert server.data_dir.is_dir()
        assert "Starting Restate Server" in server.log_path.read_text()
        pid = server.pid
    finally:
        server.stop()
    assert pid is not None
    assert not pid_alive(pid)
    assert not server.data_dir.exists()


def test_server_runs_in_its_own_session():
    server = EmbeddedRestate()
    server.start()
    try:
        assert os.getsid(server.pid) != os.getsid(0)
    finally:
        server.stop()


def test_port_taken_before_start_is_replaced_by_a_free_one():
    server = EmbeddedRestate()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", server.ports.ingress))
    blocker.listen()
    taken = server.ports.ingress
    try:
        server.start()
        assert server.ports.ingress != taken
        assert httpx.get(f"{server.ingress_url}/restate/health").status_code == 200
    finally:
        server.stop()
        blocker.close()


def test_missing_binary_says_how_to_install(monkeypatch):
    monkeypatch.setenv("RESTATE_SERVER_BIN", "/nonexistent/restate-server")
    with pytest.raises(ServerNotInstalledError, match="npm ci"):
        EmbeddedRestate()


def test_stale_data_dirs_of_dead_owners_are_removed(tmp_path: Path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "owner.json").write_text(json.dumps({"pid": int(dead.stdout), "started": 0}))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "owner.json").write_text("{")
    abandoned = tmp_path / "abandoned"  # its lab died before writing the owner file
    abandoned.mkdir()
    os.utime(abandoned, (time.time() - 120, time.time() - 120))
    starting = tmp_path / "starting"  # another lab made it a moment ago: its owner file comes next
    starting.mkdir()
    alive = tmp_path / "alive"
    alive.mkdir()
    (alive / "owner.json").write_text(json.dumps({"pid": os.getpid(), "started": start_mark(os.getpid())}))

    removed = clean_stale_data_dirs(tmp_path)

    assert sorted(p.name for p in removed) == ["abandoned", "broken", "stale"]
    assert alive.is_dir()
    assert starting.is_dir()


_OWNER_SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    # As ipykernel does: Ctrl-C raises KeyboardInterrupt, whatever the test runner's process
    # passed down (a parent that ignores or blocks SIGINT hands that on to its children).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    from tourlab import Lab
    lab = Lab.start("tour/part1")
    try:
        print(lab.runtime.pid, lab.admin_url, flush=True)  # inside try: SIGINT may follow at once
        time.sleep(120)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        time.sleep(120)
    """
)


def _start_owner() -> tuple[subprocess.Popen[str], int, str]:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER_SCRIPT],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert owner.stdout is not None
    pid_text, admin_url = owner.stdout.readline().split()
    return owner, int(pid_text), admin_url


def test_no_orphan_server_after_owner_is_sigkilled():
    owner, server_pid, _ = _start_owner()
    assert pid_alive(server_pid)
    owner.kill()  # what nbval and a kernel crash do: no atexit, no cleanup code runs
    owner.wait()
    assert eventually(lambda: not pid_alive(server_pid)), "restate-server outlived its owner"


def test_interrupting_the_kernel_does_not_stop_the_server():
    owner, server_pid, admin_url = _start_owner()
    try:
        os.killpg(owner.pid, signal.SIGINT)  # Jupyter's interrupt: SIGINT to the kernel's process group
        assert owner.stdout is not None
        assert select.select([owner.stdout], [], [], 30)[0], "the owner did not react to SIGINT within 30 s"
        assert owner.stdout.readline().strip() == "interrupted"
        assert pid_alive(server_pid)
        assert httpx.get(f"{admin_url}/health").status_code == 200
    finally:
        owner.kill()
        owner.wait()
    assert eventually(lambda: not pid_alive(server_pid))


def test_a_stopped_server_is_a_lab_error_saying_what_to_do():
    server = EmbeddedRestate()
    server.start()
    client = AdminIngressClient(server.admin_url, server.ingress_url, timeout=5)
    try:
        assert client.invocations() == []  # it answers while it runs
        server.stop()
        with pytest.raises(RestateUnreachableError, match=r"does not answer at http://127\.0\.0\.1:.*first cell"):
            client.call("CartObject", "Mary", "addTicket", "seat2B")
        with pytest.raises(RestateUnreachableError, match="Connection refused"):
            client.state("CartObject", "Mary")
    finally:
        client.close()
        server.stop()


def test_the_server_and_cli_binaries_are_located_in_one_place(tmp_path: Path):
    installed = npm_binary(SERVER_PACKAGE, "restate-server")
    assert installed.is_file()  # ./course installs it
    assert server_binary({}) == installed
    assert server_binary({"RESTATE_SERVER_BIN": str(tmp_path / "mine")}) == tmp_path / "mine"
    assert cli_binary({}) == npm_binary(CLI_PACKAGE, "restate")
    # The Docker stand-in image takes the Linux binary from the same place.
    assert images.restate_binary(PROJECT_ROOT) == npm_binary(SERVER_PACKAGE, "restate-server", system="Linux")
    assert images.restate_binary(tmp_path) is None
    with pytest.raises(ServerNotInstalledError, match="npm ci"):
        images.build_restate(tmp_path, None)  # type: ignore[arg-type]


def _settings(config: Any) -> dict[str, Any]:
    """Every setting of a Hypercorn Config (`log` is the logger made from `errorlog` and `accesslog`)."""
    kind = type(config)
    names = [
        name
        for name in dir(kind)
        if not name.startswith("_") and name != "log" and not callable(getattr(kind, name))
        if not isinstance(getattr(kind, name), property) or getattr(kind, name).fget is not None
    ]
    return {name: getattr(config, name) for name in names}


def test_the_endpoint_runs_with_the_hypercorn_config_file_except_the_bind():
    from hypercorn.config import Config

    from tourlab._endpoint import hypercorn_config

    from_file = _settings(Config.from_toml(PROJECT_ROOT / "hypercorn-config.toml"))
    endpoint = _settings(hypercorn_config("fd://7"))
    assert len(endpoint) > 40
    assert endpoint.pop("bind") == ["fd://7"]
    assert from_file.pop("bind") == ["0.0.0.0:9080"]
    assert endpoint.pop("errorlog").name == "hypercorn.error"  # to the endpoint log, not the kernel's stderr
    assert from_file.pop("errorlog") == "-"
    assert endpoint == from_file
    # What Restate needs of Hypercorn: its long-lived HTTP/2 streams are never cut off.
    assert endpoint["h2_max_concurrent_streams"] == endpoint["keep_alive_max_requests"] == 2**31 - 1
