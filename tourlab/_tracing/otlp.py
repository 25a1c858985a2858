"""Spans out of an OTLP ``ExportTraceServiceRequest`` (what Restate sends the receiver)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tourlab._tracing.model import Span, SpanEvent


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
