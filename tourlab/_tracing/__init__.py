"""Traces of invocations: Restate's spans, received in the kernel or read back from Jaeger."""

from tourlab._tracing.jaeger import spans_from_jaeger, to_jaeger
from tourlab._tracing.jaeger_reader import JaegerQuery
from tourlab._tracing.model import Span, SpanEvent
from tourlab._tracing.otlp import spans_from_request
from tourlab._tracing.receiver import TraceReceiver
from tourlab._tracing.source import TraceSource
from tourlab._tracing.store import SpanStore
from tourlab._tracing.trace import Trace

__all__ = [
    "JaegerQuery",
    "Span",
    "SpanEvent",
    "SpanStore",
    "Trace",
    "TraceReceiver",
    "TraceSource",
    "spans_from_jaeger",
    "spans_from_request",
    "to_jaeger",
]
