"""Traces without Docker: a small OTLP/gRPC receiver inside the kernel.

Restate 1.7 exports its spans only over OTLP (``--tracing-endpoint``). Instead of a Jaeger
container, the lab runs ``TraceService.Export`` itself (grpcio + opentelemetry-proto) on a free
port, keeps the spans in memory grouped by trace id (bounded: the oldest traces go first) and
renders them as an inline waterfall. A trace can be exported as Jaeger JSON for Jaeger's
"JSON File" upload.

>>> receiver = TraceReceiver()
>>> receiver.start()
>>> receiver.endpoint          # pass to restate-server --tracing-endpoint
'http://127.0.0.1:43121'
>>> receiver.store.wait_for_trace(trace_id, lambda spans: len(spans) > 3, timeout=2)
"""

from __future__ import annotations

import html
import json
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

from tourlab._client import RestateClient
from tourlab._ports import free_port

log = logging.getLogger(__name__)

#: Attribute names Restate puts on its spans.
INVOCATION_ID = "restate.invocation.id"
INVOCATION_TARGET = "restate.invocation.target"
COMMAND_TYPE = "restate.journal.command.type"
COMMAND_NAME = "restate.journal.command.name"

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2


@dataclass(frozen=True)
class SpanEvent:
    """Something that happened inside a span (for Restate: a journal command being added)."""

    time_ns: int
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``Call``, ``Run payment``, ... for Restate's command events; the event name otherwise."""
        command = self.attributes.get(COMMAND_TYPE)
        if command is None:
            return self.name.rsplit(".", 1)[-1]
        text = str(command).removeprefix("Command/")
        name = self.attributes.get(COMMAND_NAME)
        return f"{text} {name}" if name else text


@dataclass(frozen=True)
class Span:
    """One finished span as Restate exported it (ids as lowercase hex)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status_code: int = STATUS_UNSET
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()
    service: str = ""
    kind: int = 0

    @property
    def duration_ms(self) -> float:
        return max(self.end_ns - self.start_ns, 0) / 1e6

    @property
    def failed(self) -> bool:
        return self.status_code == STATUS_ERROR

    @property
    def invocation_id(self) -> str | None:
        value = self.attributes.get(INVOCATION_ID)
        return str(value) if value is not None else None

    @property
    def target(self) -> str | None:
        value = self.attributes.get(INVOCATION_TARGET)
        return str(value) if value is not None else None

    @property
    def commands(self) -> list[str]:
        """Labels of the journal commands recorded as events of this span."""
        return [event.label for event in self.events if COMMAND_TYPE in event.attributes]


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def _attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    # Keys and short values (targets, deployment ids, command types) repeat on every span: intern them.
    return {sys.intern(kv.key): _short_interned(_any_value(kv.value)) for kv in key_values}


def _short_interned(value: Any) -> Any:
    return sys.intern(value) if isinstance(value, str) and len(value) <= 64 else value


def spans_from_request(request: Any) -> list[Span]:
    """Flatten an ``ExportTraceServiceRequest`` into Spans."""
    spans = []
    for resource_spans in request.resource_spans:
        service = str(_attributes(resource_spans.resource.attributes).get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status_code=span.status.code,
                        status_message=span.status.message,
                        attributes=_attributes(span.attributes),
                        events=tuple(
                            SpanEvent(event.time_unix_nano, event.name, _attributes(event.attributes))
                            for event in span.events
                        ),
                        service=service,
                        kind=span.kind,
                    )
                )
    return spans


class SpanStore:
    """Spans grouped by trace id, bounded in memory: the least recently updated traces go first."""

    def __init__(self, *, max_traces: int = 1_000, max_spans: int = 10_000) -> None:
        self.max_traces = max_traces
        self.max_spans = max_spans
        self._traces: OrderedDict[str, dict[str, Span]] = OrderedDict()
        self._span_count = 0
        self._changed = threading.Condition()
        self.received = 0
        self.dropped_traces = 0
        self.last_arrival: float | None = None

    def add(self, spans: Iterable[Span]) -> None:
        with self._changed:
            for span in spans:
                trace = self._traces.get(span.trace_id)
                if trace is None:
                    trace = self._traces[span.trace_id] = {}
                else:
                    self._traces.move_to_end(span.trace_id)
                if span.span_id not in trace:
                    self._span_count += 1
                trace[span.span_id] = span
                self.received += 1
            self._evict()
            self.last_arrival = time.time()
            self._changed.notify_all()

    def _evict(self) -> None:
        while self._traces and (len(self._traces) > self.max_traces or self._span_count > self.max_spans):
            _trace_id, spans = self._traces.popitem(last=False)
            self._span_count -= len(spans)
            self.dropped_traces += 1

    def spans(self, trace_id: str) -> list[Span]:
        """The spans of one trace received so far, by start time."""
        with self._changed:
            return sorted(self._traces.get(trace_id.lower(), {}).values(), key=lambda s: (s.start_ns, s.name))

    def trace_ids(self) -> list[str]:
        with self._changed:
            return list(self._traces)

    def find_trace_of(self, invocation_id: str) -> str | None:
        """The trace id of the newest trace with a span of this invocation."""
        with self._changed:
            for trace_id in reversed(self._traces):
                if any(span.invocation_id == invocation_id for span in self._traces[trace_id].values()):
                    return trace_id
        return None

    def wait_for_trace(self, trace_id: str, done: Callable[[list[Span]], bool], *, timeout: float = 5.0) -> list[Span]:
        """Wait until `done(spans)` holds for the trace (or the timeout passes); returns its spans."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                spans = sorted(self._traces.get(trace_id.lower(), {}).values(), key=lambda s: (s.start_ns, s.name))
                left = deadline - time.monotonic()
                if done(spans) or left <= 0:
                    return spans
                self._changed.wait(left)

    @property
    def span_count(self) -> int:
        return self._span_count

    def clear(self) -> None:
        with self._changed:
            self._traces.clear()
            self._span_count = 0


def _servicer_class() -> type:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
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

    ``bind_host`` 0.0.0.0 with ``advertised_host`` host.docker.internal lets a Restate
    container reach it; the default serves only the loopback interface.
    """

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
        self.error: str | None = None

    @property
    def endpoint(self) -> str:
        """The URL to give restate-server as ``--tracing-endpoint`` (gRPC)."""
        return f"http://{self.advertised_host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Serve on the chosen port; a failure leaves tracing off (``error`` says why), never the lab."""
        if self._server is not None:
            return
        # The server child is forked while gRPC threads run: keep gRPC's fork notices out of cells.
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
        os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
        try:
            import grpc
            from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

            server = grpc.server(
                futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="tourlab-otlp"),
                options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 * 2**20)],
            )
            trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_servicer_class()(self.store), server)
            bound = server.add_insecure_port(f"{self.bind_host}:{self.port}")
            if bound == 0:
                raise OSError(f"port {self.port} is taken")
            server.start()
        except Exception as error:  # noqa: BLE001 - tracing is optional, the lab works without it
            self.error = f"The trace receiver did not start: {error}"
            log.warning(self.error)
            return
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0)
            self._server = None

    def trace_of(self, client: RestateClient, invocation_id: str, *, timeout: float = 5.0) -> Trace:
        """The trace an invocation belongs to, waiting (up to `timeout`) for its spans to arrive."""
        invocation, arrived = _wait_for_invocation(client, invocation_id)
        trace_id = (invocation.trace_id if invocation else None) or self.store.find_trace_of(invocation_id)
        if trace_id is None:
            return Trace("", [], invocation_id=invocation_id)
        spans = self.store.wait_for_trace(trace_id, arrived, timeout=timeout)
        return Trace(trace_id, spans, invocation_id=invocation_id)


def _wait_for_invocation(client: RestateClient, invocation_id: str) -> tuple[Any, Callable[[list[Span]], bool]]:
    """The invocation and a test telling whether its spans are all there.

    A completed invocation's trace is complete once its ``invocation-end`` span is there
    (callee spans end, and are exported, before it); for one still in flight, once there is
    an attempt span for each attempt Restate counted.
    """
    invocation = client.invocation(invocation_id)

    def arrived(spans: list[Span]) -> bool:
        mine = [span for span in spans if span.invocation_id == invocation_id]
        if invocation is None or invocation.status == "completed":
            return any(span.name.startswith("invocation-end") for span in mine)
        attempts = sum(span.name.startswith("invocation-attempt") for span in mine)
        return bool(mine) and attempts >= invocation.retry_count

    return invocation, arrived


class JaegerQuery:
    """Traces read back from a Jaeger's HTTP API, for a Restate that exports to Jaeger (docker compose).

    ``TOURLAB_JAEGER_API_URL`` is the Jaeger address as the *kernel* reaches it (e.g.
    ``http://jaeger:16686`` inside compose); ``TOURLAB_JAEGER_URL`` is the one for the browser.
    """

    def __init__(self, api_url: str, http: Any = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.http = http
        self.running = True
        self.error: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JaegerQuery | None:
        env = os.environ if env is None else env
        api = env.get("TOURLAB_JAEGER_API_URL")
        return cls(api) if api else None

    def fetch(self, trace_id: str) -> list[Span]:
        import httpx

        http = self.http or httpx
        response = http.get(f"{self.api_url}/api/traces/{trace_id}", timeout=5)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return spans_from_jaeger(response.json())

    def trace_of(self, client: RestateClient, invocation_id: str, *, timeout: float = 5.0) -> Trace:
        invocation, arrived = _wait_for_invocation(client, invocation_id)
        trace_id = invocation.trace_id if invocation else None
        if not trace_id:
            return Trace("", [], invocation_id=invocation_id)
        deadline = time.monotonic() + timeout
        while True:
            spans = sorted(self.fetch(trace_id), key=lambda s: (s.start_ns, s.name))
            if arrived(spans) or time.monotonic() >= deadline:
                return Trace(trace_id, spans, invocation_id=invocation_id)
            time.sleep(0.2)


def spans_from_jaeger(document: Mapping[str, Any]) -> list[Span]:
    """Spans out of Jaeger's JSON (its HTTP API answer, or the file ``Trace.jaeger_json`` writes)."""
    spans = []
    for trace in document.get("data") or []:
        processes = trace.get("processes") or {}
        for item in trace.get("spans") or []:
            tags = {tag["key"]: tag.get("value") for tag in item.get("tags") or []}
            failed = tags.pop("error", False) is True or tags.get("otel.status_code") == "ERROR"
            message = str(tags.pop("otel.status_description", "") or "")
            tags.pop("otel.status_code", None)
            parent = next(
                (ref["spanID"] for ref in item.get("references") or [] if ref.get("refType") == "CHILD_OF"), None
            )
            events = []
            for entry in item.get("logs") or []:
                fields = {field["key"]: field.get("value") for field in entry.get("fields") or []}
                name = str(fields.pop("event", ""))
                events.append(SpanEvent(int(entry.get("timestamp", 0)) * 1000, name, fields))
            start = int(item.get("startTime", 0)) * 1000
            spans.append(
                Span(
                    trace_id=str(item.get("traceID", trace.get("traceID", ""))).rjust(32, "0"),
                    span_id=str(item["spanID"]),
                    parent_id=parent,
                    name=str(item.get("operationName", "")),
                    start_ns=start,
                    end_ns=start + int(item.get("duration", 0)) * 1000,
                    status_code=STATUS_ERROR if failed else STATUS_UNSET,
                    status_message=message,
                    attributes=tags,
                    events=tuple(events),
                    service=str(processes.get(item.get("processID"), {}).get("serviceName", "")),
                )
            )
    return spans


def receiver_for(env: Mapping[str, str] | None = None) -> TraceReceiver | None:
    """A (not yet started) receiver matching the runtime `select_runtime` will pick, if any.

    External Restate: none (point your Restate at a collector yourself). Docker: bound to all
    interfaces and advertised as host.docker.internal. Embedded: loopback only.
    ``TOURLAB_TRACING=off`` turns tracing off. Cheap: it never pings Docker.
    """
    from tourlab._docker import HOST_FROM_CONTAINER
    from tourlab._errors import LabError
    from tourlab._runtime import RUNTIME_VAR, _embedded_binary, external_settings

    env = os.environ if env is None else env
    if env.get("TOURLAB_TRACING", "").strip().lower() in {"0", "off", "false", "no"}:
        return None
    try:
        if external_settings(env) is not None:
            return None
    except LabError:
        return None  # select_runtime reports the incomplete settings
    forced = env.get(RUNTIME_VAR, "").strip().lower()
    if forced == "external":
        return None
    if forced != "docker" and (forced == "embedded" or _embedded_binary(env) is not None):
        return TraceReceiver()
    return TraceReceiver(bind_host="0.0.0.0", advertised_host=HOST_FROM_CONTAINER)


# -- a trace, for people ---------------------------------------------------------------------------


class Trace:
    """The spans of one trace, shown as a waterfall (HTML) or a span tree (text).

    The text form leaves out ids and timings, so it reads the same on every run.
    """

    def __init__(self, trace_id: str, spans: list[Span], *, invocation_id: str | None = None) -> None:
        self.trace_id = trace_id
        self.spans = spans
        self.invocation_id = invocation_id

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Any:
        return iter(self.spans)

    @property
    def attempts(self) -> list[Span]:
        """The ``invocation-attempt`` spans, in order."""
        return [span for span in self.spans if span.name.startswith("invocation-attempt")]

    @property
    def failed_attempts(self) -> list[Span]:
        return [span for span in self.attempts if span.failed]

    def named(self, prefix: str) -> list[Span]:
        return [span for span in self.spans if span.name.startswith(prefix)]

    @property
    def root_target(self) -> str:
        for span in self.tree():
            if span[1].target:
                return span[1].target
        return "?"

    def tree(self) -> list[tuple[int, Span]]:
        """(depth, span) in display order: parents before children, siblings by start time."""
        ids = {span.span_id for span in self.spans}
        children: dict[str | None, list[Span]] = {}
        for span in self.spans:
            parent = span.parent_id if span.parent_id in ids else None
            children.setdefault(parent, []).append(span)
        ordered: list[tuple[int, Span]] = []

        def visit(parent: str | None, depth: int) -> None:
            for span in sorted(children.get(parent, []), key=lambda s: (s.start_ns, _name_order(s))):
                ordered.append((depth, span))
                visit(span.span_id, depth + 1)

        visit(None, 0)
        return ordered

    def text(self) -> str:
        lines = [f"Trace of {self.root_target}: {len(self.spans)} spans, service.name={self.service}"]
        for depth, span in self.tree():
            mark = "  FAILED: " + _first_line(span.status_message) if span.failed else ""
            commands = f"  [{', '.join(span.commands)}]" if span.commands else ""
            lines.append(f"{'  ' * depth}{_short_name(span)}{commands}{mark}")
        if not self.spans:
            lines = [_NO_SPANS]
        return "\n".join(lines)

    @property
    def service(self) -> str:
        return next((span.service for span in self.spans if span.service), "?")

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return waterfall_html(self)

    # -- Jaeger ------------------------------------------------------------------------------

    def to_jaeger(self) -> dict[str, Any]:
        """This trace in the JSON format Jaeger's UI accepts under "Search > JSON File"."""
        processes: dict[str, dict[str, Any]] = {}
        process_of: dict[str, str] = {}
        spans = []
        for span in self.spans:
            service = span.service or "unknown"
            if service not in process_of:
                process_of[service] = f"p{len(process_of) + 1}"
                processes[process_of[service]] = {"serviceName": service, "tags": []}
            tags = [_jaeger_tag(key, value) for key, value in span.attributes.items()]
            if span.failed:
                tags.append(_jaeger_tag("error", True))
                tags.append(_jaeger_tag("otel.status_description", span.status_message))
            spans.append(
                {
                    "traceID": span.trace_id,
                    "spanID": span.span_id,
                    "operationName": span.name,
                    "references": (
                        [{"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_id}]
                        if span.parent_id
                        else []
                    ),
                    "startTime": span.start_ns // 1000,
                    "duration": max(span.end_ns - span.start_ns, 0) // 1000,
                    "tags": tags,
                    "logs": [
                        {
                            "timestamp": event.time_ns // 1000,
                            "fields": [
                                _jaeger_tag("event", event.name),
                                *(_jaeger_tag(k, v) for k, v in event.attributes.items()),
                            ],
                        }
                        for event in span.events
                    ],
                    "processID": process_of[service],
                    "warnings": None,
                    "flags": 1,
                }
            )
        return {
            "data": [{"traceID": self.trace_id, "spans": spans, "processes": processes, "warnings": None}],
            "total": 0,
            "limit": 0,
            "offset": 0,
            "errors": None,
        }

    def jaeger_json(self) -> str:
        return json.dumps(self.to_jaeger(), indent=1)

    def save_jaeger_json(self, path: str | os.PathLike[str]) -> str:
        """Write the Jaeger JSON to `path`; returns the path."""
        from pathlib import Path

        Path(path).write_text(self.jaeger_json())
        return str(path)


def _jaeger_tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    text = value if isinstance(value, str) else json.dumps(value)
    return {"key": key, "type": "string", "value": text}


_NAME_ORDER = {"ingress": 0, "invocation-start": 1, "invocation-attempt": 2, "invocation-end": 3}


def _name_order(span: Span) -> int:
    return _NAME_ORDER.get(span.name.split(" ", 1)[0], 9)


def _short_name(span: Span) -> str:
    """``invocation-attempt CartObject/Mary/checkout`` (the concrete target instead of ``{key}``)."""
    kind = span.name.split(" ", 1)[0]
    return f"{kind} {span.target}" if span.target else span.name


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    # Restate's failure text is "[500 Internal] ValueError('...')" followed by the traceback,
    # whose last line is the exception as Python prints it.
    return lines[-1] if any(line.startswith("Traceback") for line in lines) else lines[0]


def failure_summary(text: str | None) -> str:
    """The handler's exception line out of Restate's failure text (which ends with the traceback)."""
    return _first_line(text or "")


# -- the waterfall -------------------------------------------------------------------------------

_NO_SPANS = (
    "No spans (yet): Restate exports them about 0.2 s after they end, and a scheduled invocation "
    "gets a trace only when it starts."
)

_COLORS = {
    "ingress": "#7b8794",
    "invocation-start": "#3b82f6",
    "invocation-attempt": "#16a34a",
    "invocation-end": "#64748b",
}


def waterfall_html(trace: Trace, *, width: int = 240, highlight: str | None = None) -> str:
    """The trace as an HTML waterfall: one row per span, failed attempts red, commands as ticks.

    The spans of invocation `highlight` (default: the one the trace was asked for) are in bold.
    """
    highlight = highlight if highlight is not None else trace.invocation_id
    if not trace.spans:
        return f"<div style='font-family:sans-serif;color:#666'>{html.escape(_NO_SPANS)}</div>"
    begin = min(span.start_ns for span in trace.spans)
    end = max(span.end_ns for span in trace.spans)
    total = max(end - begin, 1)
    rows = []
    for depth, span in trace.tree():
        left = (span.start_ns - begin) / total * 100
        bar_width = max((span.end_ns - span.start_ns) / total * 100, 0.4)
        kind = span.name.split(" ", 1)[0]
        color = "#dc2626" if span.failed else _COLORS.get(kind, "#a855f7")
        ticks = "".join(
            f"<div title='{html.escape(event.label, quote=True)}' style='position:absolute;"
            f"left:{(event.time_ns - begin) / total * 100:.2f}%;top:-3px;width:2px;height:16px;"
            "background:#111'></div>"
            for event in span.events
            if COMMAND_TYPE in event.attributes
        )
        label = html.escape(_short_name(span))
        if highlight is not None and span.invocation_id == highlight:
            label = f"<b>{label}</b>"
        failure = (
            f"<div style='color:#dc2626;font-size:11px;padding-left:{depth * 12 + 4}px'>"
            f"{html.escape(_first_line(span.status_message)[:200])}</div>"
            if span.failed
            else ""
        )
        commands = html.escape(", ".join(span.commands))
        rows.append(
            "<div style='display:flex;align-items:center;margin:2px 0'>"
            f"<div style='width:38%;flex:none;padding-left:{depth * 12}px;white-space:nowrap;box-sizing:border-box;"
            f"overflow:hidden;text-overflow:ellipsis' title='{html.escape(span.name, quote=True)}'>"
            f"{'&#10007; ' if span.failed else ''}{label}</div>"
            f"<div style='position:relative;flex:1 1 auto;min-width:{width}px;height:10px;background:#f1f5f9'>"
            f"<div title='{commands}' style='position:absolute;left:{left:.2f}%;width:{bar_width:.2f}%;"
            f"height:10px;background:{color};border-radius:2px'></div>{ticks}</div>"
            f"<div style='width:72px;flex:none;text-align:right;font-size:11px;color:#555'>"
            f"{span.duration_ms:.1f} ms</div></div>{failure}"
        )
    failed = len(trace.failed_attempts)
    header = (
        f"<div style='margin-bottom:4px'><b>{html.escape(trace.root_target)}</b> &middot; "
        f"{len(trace.spans)} spans &middot; {len(trace.attempts)} attempts"
        f"{f' (<span style=color:#dc2626>{failed} failed</span>)' if failed else ''} &middot; "
        f"{total / 1e6:.1f} ms &middot; service.name={html.escape(trace.service)}</div>"
    )
    legend = (
        "<div style='font-size:11px;color:#555;margin-top:4px'>Bars: "
        + " ".join(f"<span style='color:{color}'>&#9632;</span> {name}" for name, color in _COLORS.items())
        + " <span style='color:#dc2626'>&#9632;</span> failed attempt &middot; black ticks: journal "
        "commands (hover for the type)</div>"
    )
    return "<div style='font-family:monospace;font-size:12px'>" + header + "".join(rows) + legend + "</div>"
