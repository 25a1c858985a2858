"""The Lab: one Restate, one endpoint and one client per kernel, behind a small API."""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from tourlab import _config
from tourlab._cli import cli_env, export_cli_env, run_cli
from tourlab._client import NO_ARG, AdminIngressClient
from tourlab._errors import LabError
from tourlab._follow import answer_or_stuck
from tourlab._introspect import Introspection
from tourlab._logs import EndpointLog, tail
from tourlab._model import Deployment, Submission
from tourlab._runtimes import Runtime, restate_ui_url
from tourlab._startup import start_parts
from tourlab._tracing import TraceSource

if TYPE_CHECKING:
    from tourlab._endpoint import Endpoint

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

    @property
    def services_text(self) -> str:
        """``CartObject: addTicket, checkout; TicketObject: reserve`` (no package name)."""
        return "; ".join(f"{name}: {', '.join(handlers)}" for name, handlers in self.services.items())

    def __repr__(self) -> str:
        return f"Live: {self.package} ({self.services_text})"


class Lab(Introspection):
    """Restate, the learner's endpoint and a client, started together and owned by this kernel.

    >>> from tourlab import Lab
    >>> with Lab.start("tour/part1") as lab:
    ...     lab.call("CartObject", "Mary", "addTicket", "seat2B")
    True
    """

    def __init__(
        self,
        runtime: Runtime,
        endpoint: Endpoint,
        log: EndpointLog,
        *,
        traces: TraceSource | None,
        tracing_problem: str | None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Use ``Lab.start``; this joins parts that already run (`transport` answers in unit tests)."""
        self.runtime = runtime
        self.endpoint = endpoint
        self.endpoint_log = log
        self._client = AdminIngressClient(runtime.admin_url, runtime.ingress_url, transport=transport)
        self._stopped = False
        #: Where this lab reads traces (None: tracing is off, ``tracing_problem`` says why).
        self.traces = traces
        self.tracing_problem = tracing_problem
        self.app_dir: Path | None = None
        #: Whether Restate replays every handler from the top at each await (see ``Lab.start``).
        self.always_replay = False
        #: Extra endpoints started by ``deploy``, by deployment id.
        self._deployed: dict[str, Endpoint] = {}
        #: What the last successful (re)load put live.
        self.loaded: Reloaded | None = None
        self.started_at = time.time()
        #: Everything to undo on stop(), last started first.
        self._stack = ExitStack()
        self._stack.callback(self._client.close)
        self._watchers: list[Callable[[], None]] = []
        self._calls = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="tourlab-call")
        self._stack.callback(self._calls.shutdown, wait=False, cancel_futures=True)

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        app_dir: str | os.PathLike[str] = "tour/app",
        *,
        runtime: Runtime | None = None,
        always_replay: bool = False,
    ) -> Lab:
        """Start Restate, serve `app_dir` and register it; reuses this kernel's lab if one runs.

        Without `runtime`, the rule in ``tourlab._runtimes`` picks one and the lab receives its
        traces itself (``tourlab._startup``). ``always_replay`` starts Restate so that every await suspends the
        invocation and the handler replays from the top: non-determinism shows on the first call
        (a lab running the other way is stopped and a fresh one started). Everything started is
        stopped again if a later step fails. A `runtime` given while this kernel's lab runs is not
        started: a warning says the running lab was kept (``lab.stop()`` first to switch).
        """
        global _current
        with _current_lock:
            if _current is not None and _current.running:
                if _current.always_replay == always_replay:
                    if runtime is not None and runtime is not _current.runtime:
                        warnings.warn(
                            f"Lab.start kept the lab already running in this kernel (Restate {_current.runtime_kind} "
                            f"at {_current.admin_url}) and did not start the runtime you passed: call lab.stop() "
                            "first to switch.",
                            stacklevel=2,
                        )
                    _current.load(app_dir)
                    return _current
                _current.stop()
            lab = cls._assemble(runtime, always_replay)
            try:
                lab.load(app_dir)
            except BaseException:
                lab.stop()
                raise
            export_cli_env(lab.cli_env(), external=lab.runtime_kind == "external")
            _current = lab
            return lab

    @classmethod
    def _assemble(cls, runtime: Runtime | None, always_replay: bool) -> Lab:
        with start_parts(runtime, always_replay) as parts:
            lab = cls(parts.runtime, parts.endpoint, parts.log, traces=parts.traces, tracing_problem=parts.problem)
            lab.always_replay = always_replay
            parts.stack.enter_context(lab._stack)
            lab._stack = parts.stack.pop_all()
        return lab

    @classmethod
    def current(cls) -> Lab | None:
        """The lab this kernel runs, if any."""
        return _current if _current is not None and _current.running else None

    @property
    def running(self) -> bool:
        return self.endpoint.running and self.runtime.running

    @property
    def client(self) -> AdminIngressClient:
        """The client of this lab's Restate; a stopped lab refuses with a LabError."""
        if self._stopped:
            raise LabError("This lab was stopped: start one with Lab.start(...) (or open_section(...)).")
        return self._client

    def stop(self) -> None:
        """Stop everything this lab started (an embedded server's data is deleted)."""
        global _current
        self._stopped = True
        self._stack.close()
        if _current is self:
            _current = None

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- watching ----------------------------------------------------------------------------

    def watch(self, changed: Callable[[], None]) -> Callable[[], None]:
        """Call `changed` whenever this lab invokes, manages or reloads something; returns the way to stop.

        Live panels use it to refresh after the notebook's own ``lab.call(...)``.
        """
        self._watchers.append(changed)
        return lambda: self._watchers.remove(changed) if changed in self._watchers else None

    def _changed(self) -> None:
        for changed in list(self._watchers):
            with contextlib.suppress(Exception):  # a watcher must never break the call that woke it
                changed()

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
        self.loaded = Reloaded(loaded.package, loaded.services, time.perf_counter() - began)
        self._changed()
        return self.loaded

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

    @property
    def runtime_kind(self) -> str:
        """Where Restate runs: ``embedded``, ``docker`` or ``external``."""
        return self.runtime.kind

    @property
    def restate_ui_url(self) -> str | None:
        """Restate's own web UI, where the browser can open it (None behind a path prefix)."""
        return restate_ui_url(self.runtime)

    # -- invoking ----------------------------------------------------------------------------

    def call(
        self,
        service: str,
        key: str | None,
        handler: str,
        arg: Any = NO_ARG,
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call a handler through Restate and return its result; ``key`` is None for services.

        The call is followed by the lab's one rule (``tourlab._follow``): when its invocation, a
        callee or the holder of its key keeps failing with what looks like a bug (not a passing
        network error), InvocationError names that invocation and how to unblock it, at once.
        """
        wait = timeout if timeout is not None else self.client.timeout
        answer = self._calls.submit(
            self.client.call, service, key, handler, arg, idempotency_key=idempotency_key, timeout=wait
        )
        answer.add_done_callback(lambda _answer: self._changed())
        target = f"{service}/{handler}" if key is None else f"{service}/{key}/{handler}"
        return answer_or_stuck(self.client, answer, target, wait)

    def send(
        self,
        service: str,
        key: str | None,
        handler: str,
        arg: Any = NO_ARG,
        *,
        delay: float | timedelta | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Send a one-way invocation (optionally delayed, in seconds); returns its invocation id."""
        sent = self.client.send(service, key, handler, arg, delay=delay, idempotency_key=idempotency_key)
        self._changed()
        return sent

    def submit(
        self, workflow: str, key: str, arg: Any = NO_ARG, *, delay: float | timedelta | None = None
    ) -> Submission:
        """Start a workflow's ``run`` for workflow id `key` without waiting.

        A workflow runs once per id: submitting the same id again answers ``PreviouslyAccepted``
        with the first run's invocation id. ``lab.attach("Workflow/key")`` waits for its result.
        """
        submitted = self.client.submit(workflow, key, arg, delay=delay)
        self._changed()
        return submitted

    def attach(self, handle: str | None = None, *, timeout: float = 30.0) -> Any:
        """Wait for an invocation (``inv_...``, default: the latest one) or a workflow (``"Workflow/key"``)
        to finish and return its result."""
        return self.client.attach(self._id(handle), timeout=timeout)

    def output(self, handle: str | None = None) -> Any:
        """The result of a finished invocation (``inv_...``, default: the latest) or workflow (``"Workflow/key"``).

        InvocationError if it failed, or has not finished yet.
        """
        return self.client.output(self._id(handle))

    def resolve_awakeable(self, awakeable_id: str, value: Any = NO_ARG) -> None:
        """Complete an awakeable with `value`, as the outside system it waits for would."""
        self.client.resolve_awakeable(awakeable_id, value)
        self._changed()

    def reject_awakeable(self, awakeable_id: str, reason: str) -> None:
        """Fail an awakeable: the handler waiting on it gets a TerminalError with `reason`."""
        self.client.reject_awakeable(awakeable_id, reason)
        self._changed()

    # -- changing state ----------------------------------------------------------------------

    def set_state(self, service: str, key: str, values: dict[str, Any]) -> None:
        """Replace the K/V state of one Virtual Object key (takes effect a moment later)."""
        self.client.set_state(service, key, values)
        self._changed()

    def resume(self, invocation_id: str) -> None:
        """Retry a backing-off or paused invocation right now."""
        self.client.resume(invocation_id)
        self._changed()

    def cancel(self, invocation_id: str) -> None:
        """Cancel an invocation."""
        self.client.cancel(invocation_id)
        self._changed()

    def kill(self, invocation_id: str) -> None:
        """Kill an invocation without running more of its code."""
        self.client.kill(invocation_id)
        self._changed()

    # -- deployments -------------------------------------------------------------------------

    def deploy(self, app_dir: str | os.PathLike[str]) -> Deployment:
        """Serve `app_dir` at a new endpoint next to the others and register it as a new deployment.

        Unlike ``load`` (the course's hot reload: same URI, replaced in place), invocations that
        already run keep running on the deployment they started on; new ones go to this one.
        """
        from tourlab._endpoint import Endpoint
        from tourlab._loader import load_app

        loaded = load_app(resolve_app_dir(app_dir))
        endpoint = Endpoint(bind_host=self.runtime.bind_host)
        endpoint.start()
        endpoint.app.current = loaded.app
        try:
            answer = self.client.register(f"http://{self.runtime.endpoint_host}:{endpoint.port}", force=False)
        except BaseException:
            endpoint.stop()
            raise
        self._deployed[answer["id"]] = endpoint
        self._stack.callback(endpoint.stop)
        return next(d for d in self.deployments() if d.id == answer["id"])

    def remove_deployment(self, deployment_id: str) -> None:
        """Remove a drained deployment (and stop its endpoint if this lab started it)."""
        found = next((d for d in self.deployments() if d.id == deployment_id), None)
        if found is None:
            raise LabError(f"No deployment {deployment_id}: lab.deployments() lists them.")
        if found.pinned:
            raise LabError(
                f"{deployment_id} still has {found.pinned} unfinished invocation(s) pinned to it: removing it now "
                "would strand them. Wait until it is drained (lab.deployments()), or cancel them."
            )
        self.client.remove_deployment(deployment_id)
        endpoint = self._deployed.pop(deployment_id, None)
        if endpoint is not None:
            endpoint.stop()

    # -- faults ------------------------------------------------------------------------------

    @property
    def endpoint_running(self) -> bool:
        return self.endpoint.running

    @property
    def restate_running(self) -> bool:
        return self.runtime.running

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
            return tail(self.endpoint_log.path, lines)
        if which == "server":
            log_path = self.runtime.log_path
            return tail(log_path, lines) if log_path else f"The {self.runtime.kind} Restate keeps its own logs."
        raise LabError(f"Unknown log {which!r}: use 'endpoint' or 'server'.")

    def cli_env(self) -> dict[str, str]:
        """Environment for the ``restate`` CLI to talk to this lab's server."""
        return cli_env(self.admin_url, self.ingress_url)

    def cli(self, *args: str, timeout: float = 30.0) -> str:
        """Run the restate CLI against this lab and return what it printed."""
        return run_cli(self.cli_env(), *args, timeout=timeout)


def _stop_current() -> None:
    if _current is not None:
        _current.stop()


atexit.register(_stop_current)
