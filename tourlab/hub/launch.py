"""Start and stop a real classroom hub (``./course hub``) from Python, for tests and the benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import IO

import httpx
import psutil

from tourlab import PROJECT_ROOT, poll
from tourlab._ports import free_port
from tourlab.hub.remote import HubClient, HubError

COURSE = PROJECT_ROOT / "course"


class HubProcess:
    """``./course hub --class-dir DIR --port PORT [extra flags]`` as a child process."""

    def __init__(self, class_dir: Path, log_path: Path, *extra: str, port: int | None = None) -> None:
        self.class_dir = class_dir
        self.log_path = log_path
        self.extra = list(extra)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        """The ``class-admin`` service's token, which ``./course hub`` keeps in the class folder."""
        return (self.class_dir / "api-token").read_text().strip()

    def client(self) -> HubClient:
        return HubClient(self.url, self.token)

    def start(self, timeout: float = 120.0) -> HubProcess:
        """Start the hub and wait until its API and the gradebook answer."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        argv = [str(COURSE), "hub", "--class-dir", str(self.class_dir), "--port", str(self.port), *self.extra]
        # Its own session: ./course execs into JupyterHub, which stops everything it started on SIGTERM.
        self.process = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        process = self.process
        polled = poll(lambda: process.poll() is not None or self._answers(), timeout=timeout, interval=0.25)
        if process.poll() is not None:
            raise HubError(f"./course hub exited with {process.returncode}; see {self.log_path}")
        if not polled.ok:
            raise HubError(f"the hub did not answer within {timeout:g} s; see {self.log_path}")
        return self

    def _answers(self) -> bool:
        try:
            token = self.token
            hub = httpx.get(f"{self.url}/hub/api/", timeout=5)
            book = httpx.get(
                f"{self.url}/services/gradebook/api/summary", headers={"Authorization": f"token {token}"}, timeout=5
            )
        except (OSError, httpx.HTTPError):
            return False
        return hub.status_code == 200 and book.status_code == 200

    def descendants(self) -> list[psutil.Process]:
        """Every process the hub started and that still runs (servers, kernels, Restate, proxy, services)."""
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            return list(psutil.Process(self.process.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 90.0) -> list[psutil.Process]:
        """SIGTERM the hub (as Ctrl+C would), wait; returns the processes it left behind (killed then)."""
        if self.process is None:
            return []
        started = self.descendants()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        _, alive = psutil.wait_procs(started, timeout=20)
        alive = [p for p in alive if _running(p)]
        for leftover in alive:
            leftover.kill()
        if self._log is not None:
            self._log.close()
        self.process = None
        return alive

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie waiting to be reaped (an exited orphan is not a leftover)."""
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
