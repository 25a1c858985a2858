"""The Lab: one Restate, one endpoint and one client per kernel, behind a small API."""

from __future__ import annotations

import atexit
import concurrent.futures
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tourlab import _config
from tourlab._client import _NO_VALUE, Invocation, JournalEntry, RestateClient
from tourlab._errors import LabError
from tourlab._logs import EndpointLog
from tourlab._runtime import EXPORTED_MARKER, Runtime, select_runtime
from tourlab._tracing import JaegerQuery, Trace, TraceReceiver, receiver_for

if TYPE_CHECKING:
    from tourlab._endpoint import Endpoint
    from tourlab._loader import LoadedApp
    from tourlab.panels import Dashboard

_current: Lab | None = None
_current_lock = threading.Lock()


def resolve_app_dir(app_dir: str | os.PathLike[str]) -> Path:
    """A handler folder, relative to the project root if it exists there (notebooks run in notebooks/)."""
    path = Path(app_dir)
    if not path.is_absolute() and (_config.PROJECT_ROOT / path).is_dir():
        path = _config.PROJECT_ROOT / path
    return path.resolve()


@dataclass(frozen=True)
class Reloaded:
    """What a (re)load put live: the package and its services with their handlers."""

    package: str
    services: dict[str, list[str]]
    seconds: float

    def __repr__(self) -> str:
        listed = "; ".join(f"{name}: {', '.join(handlers)}" for name, handlers in self.services.items())
        return f"Live: {self.package} ({listed})"


class Lab:
    """Restate, the learner's endpoint and a client, started together and owned by this kernel.

    >>> from tourlab import Lab
    >>> lab = Lab.start("tour/part1")
    >>> lab.call("CartObject", "Mary", "addTicket", "seat2B")
    True
    >>> lab.reload()          # after editing tour/part1/*.py
    Live: tour.part1 (CartObject: addTicket, checkout, expireTicket; ...)
    """

    #: The in-kernel OTLP receiver Restate exports its spans to (None: tracing is off).
    tracing: TraceReceiver | None = None

    def __init__(self, runtime: Runtime, endpoint: Endpoint, log: EndpointLog) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.endpoint_log = log
        self.client = RestateClient(runtime.admin_url, runtime.ingress_url)
        self.app_dir: Path | None = None
        self.loaded: LoadedApp | None = None
        self.started_at = time.time()

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        app_dir: str | os.PathLike[str] = "tour/app",
        *,
        runtime: Runtime | None = None,
        tracing_endpoint: str | None = None,
    ) -> Lab:
        """Start Restate, serve `app_dir` and register it; reuses this kernel's lab if one runs."""
        global _current
        with _current_lock:
            if _current is not None and _current.running:
                _current.load(app_dir)
                return _current
            # Our own trace receiver, unless the caller chose the runtime or a collector.
            tracing = receiver_for() if runtime is None and tracing_endpoint is None else None
            if tracing is not None:
                tracing_endpoint = tracing.endpoint
            runtime = runtime or select_runtime(tracing_endpoint=tracing_endpoint)
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tourlab-start") as pool:
                server_up = pool.submit(runtime.start)
                if tracing is not None:
                    tracing.start()  # a few ms, while the server starts
                # Hypercorn and the Restate SDK take ~0.2 s to import: do it while the server boots.
                from tourlab._endpoint import Endpoint
                from tourlab._loader import load_app  # noqa: F401 - warms the import of restate

                log = EndpointLog(_config.LAB_HOME / "logs" / f"endpoint-{os.getpid()}.log")
                log.install()
                endpoint = Endpoint(bind_host=getattr(runtime, "bind_host", "127.0.0.1"))
                endpoint.start()
                try:
                    server_up.result()
                except BaseException:
                    endpoint.stop()
                    log.uninstall()
                    if tracing is not None:
                        tracing.stop()
                    raise
            lab = cls(runtime, endpoint, log)
            lab.tracing = tracing
            try:
                lab.load(app_dir)
            except BaseException:
                lab.stop()
                raise
            lab._export_cli_env()
            _current = lab
            return lab

    @classmethod
    def current(cls) -> Lab | None:
        """The lab this kernel runs, if any."""
        return _current if _current is not None and _current.running else None

    @property
    def running(self) -> bool:
        return self.endpoint.running and getattr(self.runtime, "running", True)

    def stop(self) -> None:
        """Stop the endpoint and the Restate server this lab started (its data is deleted)."""
        global _current
        self.endpoint.stop()
        self.runtime.stop()
        if self.tracing is not None:
            self.tracing.stop()
        self.client.close()
        self.endpoint_log.uninstall()
        if _current is self:
            _current = None

    # -- code ------------------------------------------------------------------------------

    def load(self, app_dir: str | os.PathLike[str]) -> Reloaded:
        """Serve the handler package in `app_dir` (e.g. ``tour/part2``) instead of the current one."""
        self.app_dir = resolve_app_dir(app_dir)
        return self.reload()

    def reload(self) -> Reloaded:
        """Re-import the handler package from disk and re-register it; the old code serves on failure."""
        if self.app_dir is None:
            raise LabError("No handler folder loaded yet: call lab.load('tour/app') first.")
        from tourlab._loader import load_app

        began = time.perf_counter()
        self.endpoint_log.install()  # re-wrap in case something replaced sys.stdout since the last load
        loaded = load_app(self.app_dir)
        previous = self.endpoint.app.current
        self.endpoint.app.current = loaded.app
        try:
            self.client.register(self.endpoint_url)
        except BaseException:
            self.endpoint.app.current = previous
            raise
        self.loaded = loaded
        return Reloaded(loaded.package, loaded.services, time.perf_counter() - began)

    @property
    def services(self) -> dict[str, list[str]]:
        """The services and handlers currently live."""
        return self.loaded.services if self.loaded else {}

    # -- addresses ---------------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        return self.runtime.admin_url

    @property
    def ingress_url(self) -> str:
        return self.runtime.ingress_url

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.runtime.endpoint_host}:{self.endpoint.port}"

    # -- invoking ----------------------------------------------------------------------------

    def call(
        self,
        service: str,
        key: str | None,
        handler: str,
        arg: Any = _NO_VALUE,
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call a handler through Restate and return its result; ``key`` is None for services."""
        return self.client.call(service, key, handler, arg, idempotency_key=idempotency_key, timeout=timeout)

    def send(
        self,
        service: str,
        key: str | None,
        handler: str,
        arg: Any = _NO_VALUE,
        *,
        delay: float | timedelta | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Send a one-way invocation (optionally delayed, in seconds); returns its invocation id."""
        return self.client.send(service, key, handler, arg, delay=delay, idempotency_key=idempotency_key)

    @property
    def last_invocation_id(self) -> str | None:
        """The invocation id of the latest call or send made through this lab."""
        return self.client.last_invocation_id

    # -- introspection -----------------------------------------------------------------------

    def _id(self, invocation_id: str | None) -> str:
        chosen = invocation_id or self.last_invocation_id
        if chosen is None:
            raise LabError("No invocation yet: make a call first or pass an invocation id.")
        return chosen

    def invocation(self, invocation_id: str | None = None) -> Invocation | None:
        """Status, retries and last failure of an invocation (default: the latest one)."""
        return self.client.invocation(self._id(invocation_id))

    def invocations(self, *, target: str | None = None, limit: int = 20) -> list[Invocation]:
        """Recent invocations, newest first."""
        return self.client.invocations(target=target, limit=limit)

    def journal(self, invocation_id: str | None = None) -> list[JournalEntry]:
        """The journal of an invocation (default: the latest one)."""
        return self.client.journal(self._id(invocation_id))

    def state(self, service: str, key: str) -> dict[str, Any]:
        """The K/V state Restate stores for one Virtual Object key."""
        return self.client.state(service, key)

    def query(self, sql: str) -> list[dict[str, Any]]:
        """SQL over Restate's introspection tables."""
        return self.client.query(sql)

    def wait_for(self, invocation_id: str | None = None, *statuses: str, timeout: float = 30.0) -> Invocation:
        """Wait until an invocation reaches a status (default: completed)."""
        return self.client.wait_for(self._id(invocation_id), statuses or ("completed",), timeout=timeout)

    def resume(self, invocation_id: str) -> None:
        """Retry a backing-off or paused invocation right now."""
        self.client.resume(invocation_id)

    def cancel(self, invocation_id: str) -> None:
        """Cancel an invocation."""
        self.client.cancel(invocation_id)

    def kill(self, invocation_id: str) -> None:
        """Kill an invocation without running more of its code."""
        self.client.kill(invocation_id)

    # -- traces and panels -------------------------------------------------------------------

    @property
    def trace_source(self) -> TraceReceiver | JaegerQuery | None:
        """Where this lab reads traces: its own receiver, or a Jaeger (``TOURLAB_JAEGER_API_URL``)."""
        if self.tracing is not None and self.tracing.running:
            return self.tracing
        return JaegerQuery.from_env()

    def trace(self, invocation_id: str | None = None, *, timeout: float = 5.0) -> Trace:
        """The spans of an invocation's trace (default: the latest one), as Restate exported them.

        Waits up to `timeout` for the spans of a finished invocation to arrive (~0.2 s).
        Shown in a notebook it is a waterfall; ``print()`` it for the span tree.
        """
        source = self.trace_source
        if source is None:
            why = self.tracing.error if self.tracing is not None else None
            raise LabError(
                why
                or "Tracing is off for this lab: it runs an external Restate or was started with "
                "TOURLAB_TRACING=off. Point your Restate's --tracing-endpoint at a collector such as Jaeger "
                "(and set TOURLAB_JAEGER_API_URL so the lab can read the traces back)."
            )
        return source.trace_of(self.client, self._id(invocation_id), timeout=timeout)

    def panel(self) -> Dashboard:
        """All live panels in one widget: invoke bar, journal, state, invocations, timers, trace, faults."""
        from tourlab.panels import Dashboard

        return Dashboard(self)

    # -- faults ------------------------------------------------------------------------------

    def stop_endpoint(self) -> None:
        """Take the endpoint down: Restate keeps invocations and retries them until it is back."""
        self.endpoint.stop()

    def start_endpoint(self) -> None:
        """Bring the endpoint back on the same port."""
        self.endpoint.start()

    def restart_server(self) -> None:
        """Restart Restate itself; state, journals and pending timers survive."""
        self.runtime.restart()

    # -- logs and the CLI ------------------------------------------------------------------

    def logs(self, which: str = "endpoint", lines: int = 40) -> str:
        """The last lines of the endpoint log (handler prints) or the server log."""
        if which == "endpoint":
            return self.endpoint_log.tail(lines)
        log_path = getattr(self.runtime, "log_path", None)
        if which == "server" and log_path is not None:
            return "\n".join(Path(log_path).read_text(errors="replace").splitlines()[-lines:])
        if which == "server":
            return f"The {self.runtime.kind} Restate keeps its own logs."
        raise LabError(f"Unknown log {which!r}: use 'endpoint' or 'server'.")

    def cli_env(self) -> dict[str, str]:
        """Environment for the ``restate`` CLI to talk to this lab's server."""
        env = {
            "RESTATE_ADMIN_URL": self.admin_url,
            "RESTATE_INGRESS_URL": self.ingress_url,
            EXPORTED_MARKER: self.admin_url,
        }
        cli = _config.cli_binary()
        path = os.environ.get("PATH", "")
        if cli is not None and str(cli.parent) not in path.split(os.pathsep):
            env["PATH"] = f"{cli.parent}{os.pathsep}{path}"
        return env

    def _export_cli_env(self) -> None:
        # `!restate ...` in a notebook runs in a subshell that inherits the kernel's environment.
        env = self.cli_env()
        if self.runtime.kind == "external":  # the user's own RESTATE_* settings already point there
            env = {"PATH": env["PATH"]} if "PATH" in env else {}
        os.environ.update(env)

    def cli(self, *args: str, timeout: float = 30.0) -> str:
        """Run the restate CLI against this lab and return what it printed."""
        cli = _config.cli_binary()
        if cli is None:
            raise LabError(f"The restate CLI is not installed. Install it with:  {_config.INSTALL_HINT}")
        env = {**os.environ, **self.cli_env(), "NO_COLOR": "1", "TERM": "dumb"}
        done = subprocess.run([str(cli), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise LabError(f"restate {' '.join(args)} failed:\n{done.stderr.strip() or done.stdout.strip()}")
        return done.stdout


def _stop_current() -> None:
    if _current is not None:
        _current.stop()


atexit.register(_stop_current)
