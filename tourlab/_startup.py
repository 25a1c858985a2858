"""Start a lab's parts together: Restate, the trace receiver and the endpoint, undone as one on failure."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tourlab import _config
from tourlab._logs import EndpointLog
from tourlab._runtimes import Runtime, choose_runtime, create_runtime
from tourlab._tracing import JaegerQuery, TraceReceiver, TraceSource

if TYPE_CHECKING:
    from tourlab._endpoint import Endpoint


@dataclass
class Parts:
    """What ``start_parts`` started; `stack` stops them again, last started first."""

    runtime: Runtime
    endpoint: Endpoint
    log: EndpointLog
    traces: TraceSource | None
    #: Why tracing is off, if it is.
    problem: str | None
    stack: ExitStack


@contextlib.contextmanager
def start_parts(runtime: Runtime | None, always_replay: bool) -> Iterator[Parts]:
    """Start everything a lab needs; if the ``with`` block fails (or a part does) all of it is stopped.

    Without `runtime`, the rule in ``tourlab._runtimes`` picks one and the lab receives its
    traces itself. The block keeps the parts by ``parts.stack.pop_all()``.
    """
    with ExitStack() as stack:
        receiver: TraceReceiver | None = None
        if runtime is None:
            choice = choose_runtime()
            if choice.traced:
                receiver = TraceReceiver(bind_host=choice.bind_host, advertised_host=choice.endpoint_host)
            tracing_endpoint = receiver.endpoint if receiver else None
            runtime = create_runtime(choice, tracing_endpoint=tracing_endpoint, always_replay=always_replay)
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
        yield Parts(runtime, endpoint, log, traces, problem, stack)
