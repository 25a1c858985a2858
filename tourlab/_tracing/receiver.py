"""Traces without Docker: an OTLP/gRPC receiver inside the kernel.

Restate 1.7 exports its spans only over OTLP (``--tracing-endpoint``). Instead of a Jaeger
container the lab serves ``TraceService.Export`` itself (grpcio + opentelemetry-proto) on a free
port and keeps the spans in a bounded SpanStore.

>>> receiver = TraceReceiver()
>>> receiver.start()
>>> receiver.endpoint          # pass to restate-server --tracing-endpoint
'http://127.0.0.1:43121'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent import futures
from typing import Any, TypeVar

from tourlab._model import Invocation
from tourlab._ports import free_port
from tourlab._tracing.otlp import spans_from_request
from tourlab._tracing.source import collect_trace
from tourlab._tracing.store import SpanStore
from tourlab._tracing.trace import Trace

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Keep gRPC quiet in notebook cells: the server child and `!commands` are forked while gRPC threads run.
QUIET_GRPC = {"GRPC_VERBOSITY": "ERROR", "GRPC_ENABLE_FORK_SUPPORT": "false"}


def _servicer_class() -> type:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):
        def __init__(self, store: SpanStore) -> None:
            self.store = store

        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
            try:
                self.store.add(spans_from_request(request))
            except Exception:  # a bad batch must not break Restate's exporter
                log.exception("Could not store a batch of spans")
            return trace_service_pb2.ExportTraceServiceResponse()

    return _Servicer


class TraceReceiver:
    """An OTLP/gRPC trace receiver on a free port, storing what it gets in a SpanStore.

    ``bind_host`` is where it listens; ``advertised_host`` is how Restate reaches it (a Restate
    container: ``host.docker.internal``).
    """

    description = "received in this kernel"

    def __init__(
        self,
        *,
        bind_host: str = "127.0.0.1",
        advertised_host: str | None = None,
        port: int = 0,
        store: SpanStore | None = None,
    ) -> None:
        self.bind_host = bind_host
        self.advertised_host = advertised_host or ("127.0.0.1" if bind_host == "0.0.0.0" else bind_host)
        self.port = port or free_port(bind_host)
        self.store = store or SpanStore()
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        """The URL to give restate-server as ``--tracing-endpoint`` (gRPC)."""
        return f"http://{self.advertised_host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Serve on the chosen port; raises OSError when the port is taken."""
        if self._server is not None:
            return
        for name, value in QUIET_GRPC.items():
            os.environ.setdefault(name, value)
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        server = grpc.server(
            _ExportPool(max_workers=2, thread_name_prefix="tourlab-otlp"),
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 * 2**20)],
        )
        servicer = _servicer_class()(self.store)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
        try:
            bound = server.add_insecure_port(f"{self.bind_host}:{self.port}")
        except RuntimeError:  # what grpcio 1.6x raises instead of answering 0
            bound = 0
        if bound == 0:
            # The port was free when it was picked, and Restate was already told to send there.
            raise OSError(
                f"another program took port {self.port} on {self.bind_host}, picked for the trace receiver, "
                "while the lab started; start the lab again to get traces"
            )
        server.start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0)
            self._server = None

    def trace_of(self, invocation: Invocation | None, invocation_id: str, *, timeout: float) -> Trace:
        trace_id = (invocation.trace_id if invocation else None) or self.store.find_trace_of(invocation_id)
        return collect_trace(trace_id, invocation, invocation_id, self.store.spans, timeout=timeout, interval=0.02)


class _ExportPool(futures.ThreadPoolExecutor):
    """The receiver's threads. Restate may still export while this interpreter exits, after Python
    stopped all thread pools and before the lab's exit handler stops Restate: such spans are dropped
    (a plain pool raises into grpc's thread, which prints a traceback)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> futures.Future[T]:
        try:
            return super().submit(fn, *args, **kwargs)
        except RuntimeError:
            dropped: futures.Future[T] = futures.Future()
            dropped.cancel()
            return dropped
