"""Jaeger's JSON trace format: read it (Jaeger's API, uploaded files) and write it (for the UI upload)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tourlab._tracing.model import STATUS_ERROR, STATUS_UNSET, Span, SpanEvent


def spans_from_jaeger(document: Mapping[str, Any]) -> list[Span]:
    """Spans out of Jaeger's JSON (its HTTP API answer, or the file ``to_jaeger`` makes)."""
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


def _tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    text = value if isinstance(value, str) else json.dumps(value)
    return {"key": key, "type": "string", "value": text}


def _jaeger_span(span: Span, process_id: str) -> dict[str, Any]:
    tags = [_tag(key, value) for key, value in span.attributes.items()]
    if span.failed:
        tags += [_tag("error", True), _tag("otel.status_description", span.status_message)]
    references = [{"refType": "CHILD_OF", "traceID": span.trace_id, "spanID": span.parent_id}] if span.parent_id else []
    logs = [
        {
            "timestamp": event.time_ns // 1000,
            "fields": [_tag("event", event.name), *(_tag(k, v) for k, v in event.attributes.items())],
        }
        for event in span.events
    ]
    return {
        "traceID": span.trace_id,
        "spanID": span.span_id,
        "operationName": span.name,
        "references": references,
        "startTime": span.start_ns // 1000,
        "duration": max(span.end_ns - span.start_ns, 0) // 1000,
        "tags": tags,
        "logs": logs,
        "processID": process_id,
        "warnings": None,
        "flags": 1,
    }


def to_jaeger(trace_id: str, spans: list[Span]) -> dict[str, Any]:
    """A trace in the JSON format Jaeger's UI accepts under "Search > JSON File"."""
    process_of: dict[str, str] = {}
    for span in spans:
        process_of.setdefault(span.service or "unknown", f"p{len(process_of) + 1}")
    processes = {pid: {"serviceName": service, "tags": []} for service, pid in process_of.items()}
    document_spans = [_jaeger_span(span, process_of[span.service or "unknown"]) for span in spans]
    trace = {"traceID": trace_id, "spans": document_spans, "processes": processes, "warnings": None}
    return {"data": [trace], "total": 0, "limit": 0, "offset": 0, "errors": None}
