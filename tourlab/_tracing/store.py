"""Spans grouped by trace, in memory, bounded: the least recently updated traces go first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from tourlab._tracing.model import Span


class SpanStore:
    """Thread-safe: the gRPC receiver adds while the kernel reads."""

    def __init__(self, *, max_traces: int = 1_000, max_spans: int = 10_000) -> None:
        self.max_traces = max_traces
        self.max_spans = max_spans
        self._traces: OrderedDict[str, dict[str, Span]] = OrderedDict()
        self._span_count = 0
        self._lock = threading.Lock()
        self.dropped_traces = 0

    def add(self, spans: Iterable[Span]) -> None:
        with self._lock:
            for span in spans:
                trace = self._traces.get(span.trace_id)
                if trace is None:
                    trace = self._traces[span.trace_id] = {}
                else:
                    self._traces.move_to_end(span.trace_id)
                if span.span_id not in trace:
                    self._span_count += 1
                trace[span.span_id] = span
            self._evict()

    def _evict(self) -> None:
        while self._traces and (len(self._traces) > self.max_traces or self._span_count > self.max_spans):
            _trace_id, spans = self._traces.popitem(last=False)
            self._span_count -= len(spans)
            self.dropped_traces += 1

    def spans(self, trace_id: str) -> list[Span]:
        """The spans of one trace received so far, by start time."""
        with self._lock:
            found = list(self._traces.get(trace_id.lower(), {}).values())
        return sorted(found, key=lambda s: (s.start_ns, s.name))

    def trace_ids(self) -> list[str]:
        with self._lock:
            return list(self._traces)

    def find_trace_of(self, invocation_id: str) -> str | None:
        """The trace id of the newest trace with a span of this invocation."""
        with self._lock:
            for trace_id in reversed(self._traces):
                if any(span.invocation_id == invocation_id for span in self._traces[trace_id].values()):
                    return trace_id
        return None

    @property
    def span_count(self) -> int:
        return self._span_count
