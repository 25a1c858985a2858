"""Test your Restate handlers against a real restate-server. Copy this file next to your tests.

Needs restate-sdk, hypercorn, httpx and the restate-server binary ($RESTATE_SERVER_BIN, PATH or
`npm install @restatedev/restate-server`). In conftest.py:

    from restate_fixture import restate_env  # noqa: F401

    @pytest.fixture(scope="session")
    def restate_app():
        from myshop.app import app
        return app

A test takes `restate_env` and calls `restate.create_client(restate_env.ingress_url)`. The server
replays at every suspension point and fails a call at its first error, so bugs show at once.
"""

import asyncio
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

TEST_SETTINGS = {
    "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "0s",  # always replay
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "1",  # no retries: the call fails at once
    "RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS": "kill",
    "RESTATE_DEFAULT_NUM_PARTITIONS": "1",
    "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": "64MB",
    "RESTATE_DISABLE_TELEMETRY": "true",
}
_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None  # loaded before any fork


@dataclass(frozen=True)
class RestateEnv:
    ingress_url: str
    admin_url: str
    server_pid: int


def find_server() -> str:
    """$RESTATE_SERVER_BIN, else restate-server on PATH, else the npm package's native binary."""
    candidates = [os.environ.get("RESTATE_SERVER_BIN"), shutil.which("restate-server")]
    for folder in [Path.cwd(), *Path.cwd().parents]:
        candidates += map(str, folder.glob("node_modules/@restatedev/restate-server-*/bin/restate-server"))
    for candidate in filter(None, candidates):
        if not os.path.realpath(candidate).endswith(".js"):  # npm's shim: node would be our child, not Restate
            return candidate
    raise RuntimeError("restate-server not found: set RESTATE_SERVER_BIN or `npm install @restatedev/restate-server`")


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


class _Endpoint:
    """Hypercorn serving `app` on a free loopback port, on its own thread and event loop."""

    def __init__(self, app: Any) -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.h2_max_concurrent_streams = config.keep_alive_max_requests = 2**31 - 1
        config.graceful_timeout = 0.5
        self._started = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(app, config),), daemon=True)
        self._thread.start()
        self._started.wait(5)

    async def _serve(self, app: Any, config: Config) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._started.set()
        await serve(app, config, shutdown_trigger=self._stop.wait, mode="asgi")

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


@contextmanager
def run_restate(app: Any, *, extra_env: dict[str, str] | None = None, timeout: float = 30) -> Iterator[RestateEnv]:
    """Start restate-server, serve `app` (a restate.app) and register it; stop both afterwards."""
    binary, owner = find_server(), os.getpid()
    ingress, admin, fabric = (f"127.0.0.1:{_free_port()}" for _ in range(3))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTATE_")} | TEST_SETTINGS | (extra_env or {})
    env |= {"RESTATE_INGRESS__BIND_ADDRESS": ingress, "RESTATE_ADMIN__BIND_ADDRESS": admin}
    env |= {"RESTATE_BIND_ADDRESS": fabric, "RESTATE_ADVERTISED_ADDRESS": f"http://{fabric}/"}

    def die_with_parent() -> None:  # in the child before exec: SIGKILL when this process dies
        if _LIBC is not None:
            _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG; fires when the forking *thread* ends
            if os.getppid() != owner:  # we died before prctl took effect
                os._exit(1)

    data_dir = Path(tempfile.mkdtemp(prefix="restate-test-"))
    env["RESTATE_WORKER__INVOKER__TMP_DIR"] = str(data_dir)  # else each run leaves an invoker-<id> in the temp folder
    log_path, endpoint, server = data_dir / "restate.log", _Endpoint(app), None
    try:
        command = [binary, "--base-dir", str(data_dir), "--listen-mode", "tcp"]
        with log_path.open("wb") as log:  # its own session: a Ctrl+C in the terminal does not reach it
            server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                      preexec_fn=die_with_parent)  # noqa: PLW1509  # fmt: skip
        with httpx.Client(timeout=5) as http:
            deadline = time.monotonic() + timeout
            while not _healthy(http, f"http://{admin}/health", f"http://{ingress}/restate/health"):
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"restate-server did not start (exit code {server.poll()}):\n{tail}")
                time.sleep(0.05)
            answer = http.post(f"http://{admin}/deployments", json={"uri": endpoint.url}, timeout=timeout)
            if not answer.is_success:
                reason = answer.json().get("message") if "json" in answer.headers.get("content-type", "") else None
                message = f"Restate could not register {endpoint.url} ({answer.status_code}): {reason or answer.text}"
                raise RuntimeError(message)
        yield RestateEnv(f"http://{ingress}", f"http://{admin}", server.pid)
    finally:
        endpoint.close()
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def _healthy(http: httpx.Client, *urls: str) -> bool:
    try:
        return all(http.get(url).status_code == 200 for url in urls)
    except httpx.TransportError:
        return False


@pytest.fixture(scope="session")
def restate_env(restate_app: Any) -> Iterator[RestateEnv]:
    """A real Restate serving your `restate_app` fixture, for the whole test session."""
    with run_restate(restate_app) as env:
        yield env
