"""Where the lab reads traces from: one protocol, and the rule for "all spans are there"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tourlab._model import Invocation
from tourlab._tracing.model import Span
from tourlab._tracing.trace import Trace
from tourlab._wait import poll


class TraceSource(Protocol):
    """Something that can hand over the spans of an invocation's trace."""

    @property
    def description(self) -> str:
        """Where the traces come from, for people (``received in this kernel``)."""

    def trace_of(self, invocation: Invocation | None, invocation_id: str, *, timeout: float) -> Trace:
        """The trace `invocation` belongs to, waiting up to `timeout` s for its spans to arrive."""


def spans_complete(invocation: Invocation | None, invocation_id: str) -> Callable[[list[Span]], bool]:
    """A test telling whether the spans of `invocation` are all there.

    A completed invocation's trace is complete once its ``invocation-end`` span is there (callee
    spans end, and are exported, before it); for one still in flight, once there is an attempt
    span for each attempt Restate counted.
    """

    def complete(spans: list[Span]) -> bool:
        mine = [span for span in spans if span.invocation_id == invocation_id]
        if invocation is None or invocation.status == "completed":
            return any(span.phase == "invocation-end" for span in mine)
        attempts = sum(span.phase == "invocation-attempt" for span in mine)
        return bool(mine) and attempts >= invocation.retry_count

    return complete


def collect_trace(
    trace_id: str | None,
    invocation: Invocation | None,
    invocation_id: str,
    spans_of: Callable[[str], list[Span]],
    *,
    timeout: float,
    interval: float,
) -> Trace:
    """Poll `spans_of(trace_id)` until the invocation's spans are all there or `timeout` passes."""
    if not trace_id:
        return Trace("", [], invocation_id=invocation_id)
    polled = poll(
        lambda: spans_of(trace_id), spans_complete(invocation, invocation_id), timeout=timeout, interval=interval
    )
    return Trace(trace_id, polled.value, invocation_id=invocation_id)
