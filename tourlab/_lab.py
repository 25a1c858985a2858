"""The Lab: one Restate, one endpoint and one client per kernel, behind a small API."""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from tourlab import _config
from tourlab._client import NO_ARG, AdminIngressClient
from tourlab._diagnose import Stuck, why_stuck
from tourlab._errors import InvocationError, InvocationTimeoutError, LabError
from tourlab._logs import EndpointLog, tail
from tourlab._model import Deployment, Invocation, InvocationStatus, JournalEntry, Submission, Timer, waiting_for
from tourlab._runtimes import EXPORTED_MARKER, Runtime, choose_runtime, create_runtime, restate_ui_url
from tourlab._tracing import JaegerQuery, Trace, TraceReceiver, TraceSource
from tourlab._wait import poll

if TYPE_CHECKING:
    from tourlab._endpoint import Endpoint

_current: Lab | None = None
_current_lock = threading.Lock()
#: How long a call may go unanswered before the lab looks for what blocks it (seconds).
STUCK_AFTER = 1.0


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


class Lab:
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
        self.client = AdminIngressClient(runtime.admin_url, runtime.ingress_url, transport=transport)
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
        self._stack.callback(self.client.close)
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
        traces itself. ``always_replay`` starts Restate so that every await suspends the
        invocation and the handler replays from the top: non-determinism shows on the first call
        (a lab running the other way is stopped and a fresh one started). Everything started is
        stopped again if a later step fails.
        """
        global _current
        with _current_lock:
            if _current is not None and _current.running:
                if _current.always_replay == always_replay:
                    _current.load(app_dir)
                    return _current
                _current.stop()
            lab = cls._assemble(runtime, always_replay)
            try:
                lab.load(app_dir)
            except BaseException:
                lab.stop()
                raise
            lab._export_cli_env()
            _current = lab
            return lab

    @classmethod
    def _assemble(cls, runtime: Runtime | None, always_replay: bool) -> Lab:
        with ExitStack() as stack:
            receiver: TraceReceiver | None = None
            if runtime is None:
                choice = choose_runtime()
                if choice.traced:
                    receiver = TraceReceiver(bind_host=choice.bind_host, advertised_host=choice.endpoint_host)
                runtime = create_runtime(
                    choice,
                    tracing_endpoint=receiver.endpoint if receiver else None,
                    server_env=_config.ALWAYS_REPLAY_ENV if always_replay else None,
                )
            problem = None
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tourlab-start") as pool:
                stack.callback(runtime.stop)
                server_up = pool.submit(runtime.start)
                # While the server boots: the receiver, the endpoint and the ~0.2 s import of the SDK.
                if receiver is not None:
                    try:
                        receiver.start()
                        stack.callback(receiver.stop)
                    except OSError as error:  # tracing is optional: the lab works without it
                        problem, receiver = f"Tracing is off: {error}.", None
                from tourlab._endpoint import Endpoint
                from tourlab._loader import load_app  # noqa: F401 - warms the import of restate

                log = EndpointLog(_config.LAB_HOME / "logs" / f"endpoint-{os.getpid()}.log")
                log.install()
                stack.callback(log.uninstall)
                endpoint = Endpoint(bind_host=runtime.bind_host)
                endpoint.start()
                stack.callback(endpoint.stop)
                server_up.result()
            traces: TraceSource | None = receiver or JaegerQuery.from_env()
            if traces is None and problem is None:
                problem = (
                    "Tracing is off for this lab: it runs an external Restate or was started with "
                    "TOURLAB_TRACING=off. Point your Restate's --tracing-endpoint at a collector such as Jaeger "
                    "(and set TOURLAB_JAEGER_API_URL so the lab can read the traces back)."
                )
            lab = cls(runtime, endpoint, log, traces=traces, tracing_problem=problem)
            lab.always_replay = always_replay
            stack.enter_context(lab._stack)
            lab._stack = stack.pop_all()
        return lab

    @classmethod
    def current(cls) -> Lab | None:
        """The lab this kernel runs, if any."""
        return _current if _current is not None and _current.running else None

    @property
    def running(self) -> bool:
        return self.endpoint.running and self.runtime.running

    def stop(self) -> None:
        """Stop everything this lab started (an embedded server's data is deleted)."""
        global _current
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

        When the call gets no answer within a second because its invocation, a callee or the
        holder of its key keeps failing with what looks like a bug (not a passing network error),
        InvocationError names that invocation and how to unblock it, at once.
        """
        wait = timeout if timeout is not None else self.client.timeout
        answer = self._calls.submit(
            self.client.call, service, key, handler, arg, idempotency_key=idempotency_key, timeout=wait
        )
        answer.add_done_callback(lambda _answer: self._changed())
        try:
            return answer.result(timeout=STUCK_AFTER)
        except concurrent.futures.TimeoutError:
            pass
        target = f"{service}/{handler}" if key is None else f"{service}/{key}/{handler}"

        def answered_or_stuck() -> bool | Stuck:
            stuck = None if answer.done() else self._stuck(target)
            return answer.done() or (stuck is not None and not stuck.transient and stuck)

        polled = poll(answered_or_stuck, timeout=wait, interval=0.5)
        if isinstance(polled.value, Stuck):
            self.client.last_invocation_id = polled.value.asked.id
            raise InvocationError(f"{target} gets no answer. {polled.value}", invocation_id=polled.value.asked.id)
        try:
            return answer.result()
        except InvocationTimeoutError as late:
            stuck = self._stuck(target)
            if stuck is None:
                raise
            self.client.last_invocation_id = stuck.asked.id
            raise InvocationTimeoutError(f"{late} {stuck}", invocation_id=stuck.asked.id) from None

    def _stuck(self, target: str) -> Stuck | None:
        waiting = [inv for inv in self.client.invocations(target=target, limit=5) if inv.target == target]
        unfinished = [inv for inv in waiting if inv.status != "completed"]
        return why_stuck(self.client, unfinished[0]) if unfinished else None

    def why_stuck(self, invocation_id: str | None = None) -> Stuck | None:
        """What keeps an invocation (default: the latest one) from finishing: the one that keeps failing."""
        invocation = self.invocation(invocation_id)
        return why_stuck(self.client, invocation) if invocation is not None else None

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

    def journals(self, invocation_ids: list[str]) -> dict[str, list[JournalEntry]]:
        """The journals of several invocations at once."""
        return self.client.journals(invocation_ids)

    def waiting_for(self, invocation_id: str | None = None) -> str | None:
        """What an unfinished invocation (default: the latest) waits for, in words."""
        invocation = self.invocation(invocation_id)
        return waiting_for(invocation, self.journal(invocation.id)) if invocation is not None else None

    def state(self, service: str, key: str) -> dict[str, Any]:
        """The K/V state Restate stores for one Virtual Object key."""
        return self.client.state(service, key)

    def states(self, objects: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The K/V state of several (service, key) objects at once."""
        return self.client.states(objects)

    def set_state(self, service: str, key: str, values: dict[str, Any]) -> None:
        """Replace the K/V state of one Virtual Object key (takes effect a moment later)."""
        self.client.set_state(service, key, values)
        self._changed()

    def service_state(self, service: str) -> dict[str, dict[str, Any]]:
        """The K/V state of every key of a Virtual Object, by key."""
        return self.client.service_state(service)

    def timers(self) -> list[Timer]:
        """Delayed calls and sleeps that have not fired yet, soonest first."""
        return self.client.timers()

    def delayed_calls(self) -> list[Timer]:
        """Invocations sent with a delay that have not started yet."""
        return self.client.delayed_calls()

    def sleeps(self) -> list[Timer]:
        """``ctx.sleep`` timers of unfinished invocations that have not fired yet."""
        return self.client.sleeps()

    def query(self, sql: str) -> list[dict[str, Any]]:
        """SQL over Restate's introspection tables."""
        return self.client.query(sql)

    def wait_for(
        self, invocation_id: str | None = None, *statuses: InvocationStatus, timeout: float = 30.0
    ) -> Invocation:
        """Wait until an invocation reaches a status (default: completed)."""
        return self.client.wait_for(self._id(invocation_id), statuses or ("completed",), timeout=timeout)

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

    # -- traces ------------------------------------------------------------------------------

    def trace(self, invocation_id: str | None = None, *, timeout: float = 5.0) -> Trace:
        """The spans of an invocation's trace (default: the latest one), as Restate exported them.

        Waits up to `timeout` for the spans of a finished invocation to arrive (~0.2 s).
        Shown in a notebook it is a waterfall; ``print()`` it for the span tree.
        """
        if self.traces is None:
            raise LabError(self.tracing_problem or "Tracing is off for this lab.")
        chosen = self._id(invocation_id)
        return self.traces.trace_of(self.client.invocation(chosen), chosen, timeout=timeout)

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

    def deployments(self) -> list[Deployment]:
        """The deployments Restate knows, newest first: active, draining (invocations still pinned) or drained."""
        return self.client.deployments()

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
        env = {k: v for k, v in os.environ.items() if k != "CLICOLOR_FORCE"}  # set by ipykernel
        env.update({**self.cli_env(), "NO_COLOR": "1", "TERM": "dumb"})
        done = subprocess.run([str(cli), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise LabError(f"restate {' '.join(args)} failed:\n{done.stderr.strip() or done.stdout.strip()}")
        return done.stdout


def _stop_current() -> None:
    if _current is not None:
        _current.stop()


atexit.register(_stop_current)
