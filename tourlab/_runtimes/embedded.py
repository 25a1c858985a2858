"""The embedded restate-server: one per kernel, on free loopback ports, with its own data dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tourlab import _config
from tourlab._errors import ServerNotInstalledError, ServerStartError
from tourlab._ports import free_port
from tourlab._process import spawn_owned, start_mark, still_running, terminate
from tourlab._runtimes._readiness import wait_until_ready

_OWNER_FILE = "owner.json"
#: A data dir without its owner file is still being set up by a starting lab, unless it is older.
_SETUP_SECONDS = 60.0
_PORT_CLASH_MARKERS = ("Address in use", "Address already in use", "AddrInUse")


@dataclass(frozen=True)
class ServerPorts:
    """The three ports a Restate node listens on."""

    ingress: int
    admin: int
    fabric: int

    @classmethod
    def pick(cls) -> ServerPorts:
        """Three currently free loopback ports."""
        return cls(ingress=free_port(), admin=free_port(), fabric=free_port())


def clean_stale_data_dirs(run_dir: Path = _config.RUN_DIR) -> list[Path]:
    """Delete data dirs whose owning process is gone; returns what was removed."""
    removed: list[Path] = []
    if not run_dir.is_dir():
        return removed
    for data_dir in run_dir.iterdir():
        try:
            owner = json.loads((data_dir / _OWNER_FILE).read_text())
            alive = still_running(owner["pid"], owner["started"])
        except FileNotFoundError:  # another lab may have just made it: its owner file comes next
            alive = _age(data_dir) < _SETUP_SECONDS
        except (OSError, ValueError, KeyError, TypeError):
            alive = False
        if not alive:
            shutil.rmtree(data_dir, ignore_errors=True)
            removed.append(data_dir)
    return removed


def _age(path: Path) -> float:
    """Seconds since `path` was last modified (infinite if it is gone)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")


class EmbeddedRestate:
    """A restate-server child process owned by this Python process.

    >>> server = EmbeddedRestate()
    >>> server.start()
    >>> server.admin_url
    'http://127.0.0.1:41234'
    >>> server.stop()
    """

    kind = "embedded"
    endpoint_host = "127.0.0.1"
    bind_host = "127.0.0.1"

    def __init__(
        self,
        *,
        binary: Path | None = None,
        tracing_endpoint: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        found = binary or _config.server_binary()
        if found is None or not found.exists():
            raise ServerNotInstalledError(
                f"restate-server {_config.restate_version()} is not installed. "
                f"Install the pinned binary with:  {_config.INSTALL_HINT}"
            )
        self.binary = found
        self.tracing_endpoint = tracing_endpoint
        self.extra_env = dict(extra_env or {})
        self.ports = ServerPorts.pick()
        self.data_dir = _config.RUN_DIR / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.log_path = self.data_dir / "restate.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.admin}"

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.ingress}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server (on fresh ports if the chosen ones were taken) and wait until healthy."""
        clean_stale_data_dirs()
        (self.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
        started = start_mark(os.getpid())
        # Written whole or not at all: a sweep in another process may read it at any moment.
        written = self.data_dir / f"{_OWNER_FILE}.part"
        written.write_text(json.dumps({"pid": os.getpid(), "started": started}))
        written.replace(self.data_dir / _OWNER_FILE)
        for attempt in range(3):
            try:
                self._launch(timeout)
                return
            except _PortClashError:
                if attempt == 2:
                    raise ServerStartError(
                        "restate-server could not bind its ports three times in a row "
                        f"(another program keeps taking them). Log: {self.log_path}"
                    ) from None
                self.ports = ServerPorts.pick()

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start again on the same ports, keeping all data (state, journals, timers)."""
        if self._process is not None:
            terminate(self._process, timeout=10)
        try:
            self._launch(timeout)
        except _PortClashError:
            raise ServerStartError(
                f"restate-server could not get its ports {self.ports} back after the restart: "
                "another program took them. Start a new lab with Lab.start()."
            ) from None

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop the server and, unless `keep_data`, delete its data dir."""
        if self._process is not None:
            terminate(self._process, timeout=10)
            self._process = None
        if not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _command(self) -> list[str]:
        argv = [str(self.binary), "--base-dir", str(self.data_dir), "--no-logo", "--listen-mode", "tcp"]
        if self.tracing_endpoint:
            argv += ["--tracing-endpoint", self.tracing_endpoint]
        return argv

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTATE_")}
        env.update(_config.SERVER_ENV)
        env.update(
            {
                "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{self.ports.ingress}",
                "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{self.ports.admin}",
                "RESTATE_BIND_ADDRESS": f"127.0.0.1:{self.ports.fabric}",
                "RESTATE_ADVERTISED_ADDRESS": f"http://127.0.0.1:{self.ports.fabric}/",
                "RESTATE_NODE_NAME": "tourlab",
                # Otherwise every start leaves an empty /tmp/invoker-<id> behind.
                "RESTATE_WORKER__INVOKER__TMP_DIR": str(self.data_dir / "tmp"),
            }
        )
        env.update(self.extra_env)
        return env

    def _launch(self, timeout: float) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = spawn_owned(self._command(), env=self._environment(), cwd=self.data_dir, log=log)
        problem = wait_until_ready(self.admin_url, self.ingress_url, timeout=timeout, before_each_try=self._check_alive)
        if problem is not None:
            terminate(self._process)
            raise ServerStartError(
                f"restate-server was not ready after {timeout:.0f} s ({problem}). Log: {self.log_path}"
            )

    def _check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            self._fail_early()

    def _fail_early(self) -> None:
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            tail = log.read().decode(errors="replace")[-4000:]
        if any(marker in tail for marker in _PORT_CLASH_MARKERS):
            raise _PortClashError
        last_lines = "\n".join(tail.strip().splitlines()[-8:])
        raise ServerStartError(
            f"restate-server exited with code {self._process.returncode if self._process else '?'} "
            f"while starting. Last lines of {self.log_path}:\n{last_lines}"
        )


class _PortClashError(Exception):
    pass
