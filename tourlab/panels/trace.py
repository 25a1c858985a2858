"""The trace of the selected invocation as an inline waterfall, from the lab's trace source."""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from tourlab import Invocation, Lab, Trace
from tourlab.panels._base import ACTIVE, IDLE, SPANS, LabView, PanelBase
from tourlab.panels._format import esc, set_if_changed
from tourlab.panels._round import Round
from tourlab.panels.links import jaeger_trace_url

#: Keep looking for late spans this long after an invocation completed (they come ~0.2 s later).
LATE_SPANS_SECONDS = 3.0


class TracePanel(PanelBase):
    """Spans from ``ingress`` through each ``invocation-attempt`` (failed ones in red) to ``invocation-end``."""

    title = "Trace"
    description = "waterfall of the selected invocation's trace"
    light = True  # late spans are drawn by light rounds: one read of Restate, not a full round

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.waterfall = widgets.HTML("")
        self.links = widgets.HTML("")
        self.trace: Trace | None = None
        self._complete_since: dict[str, float] = {}
        self._shown: tuple[object, ...] = ()
        self._compose(self.waterfall, self.links)

    def _render(self, current: Round) -> int:
        invocation_id = self.view.invocation_id
        if invocation_id is None:
            self._show(("none",), lambda: ("<i>Select an invocation to see its trace.</i>", ""))
            return IDLE
        trace = current.trace(invocation_id)
        if trace is None:
            self._show(("off",), lambda: (f"<i>{esc(self.lab.tracing_problem or 'Tracing is off.')}</i>", ""))
            return IDLE
        self.trace = trace
        invocation = current.invocation(invocation_id)
        note = ""
        if invocation is not None and invocation.last_failure and trace.failed_attempts:
            note = (
                "<div style='font-size:12px'>Restate marks failed attempts with status ERROR "
                "(\"transient failure\"); the handler's exception was: <span style='color:#dc2626'>"
                f"{esc(invocation.failure)}</span></div>"
            )
        # Drawing and encoding a trace costs more than reading it: only when something changed.
        self._show((trace.trace_id, len(trace.spans), note), lambda: (trace.html() + note, _links(trace)))
        return self._busy(invocation_id, invocation, trace)

    def _show(self, key: tuple[object, ...], draw: Callable[[], tuple[str, str]]) -> None:
        if key != self._shown:
            self._shown = key
            waterfall, links = draw()
            set_if_changed(self.waterfall, waterfall)
            set_if_changed(self.links, links)

    def _busy(self, invocation_id: str, invocation: Invocation | None, trace: Trace) -> int:
        """ACTIVE while attempts keep coming; SPANS while a finished invocation's last spans are on their way."""
        if invocation is None or invocation.status in {"scheduled", "paused", "suspended"}:
            return IDLE
        if invocation.status != "completed":
            return ACTIVE
        if any(span.phase == "invocation-end" and span.invocation_id == invocation_id for span in trace):
            return IDLE
        first_seen = self._complete_since.setdefault(invocation_id, time.monotonic())
        return SPANS if time.monotonic() - first_seen < LATE_SPANS_SECONDS else IDLE


def _links(trace: Trace) -> str:
    if not trace.spans:
        return ""
    parts = []
    jaeger = jaeger_trace_url(trace.trace_id)
    if jaeger:
        parts.append(f"<a href='{html.escape(jaeger, quote=True)}' target='_blank'>open in Jaeger</a>")
    payload = base64.b64encode(trace.jaeger_json().encode()).decode()
    parts.append(
        f"<a download='trace-{trace.trace_id}.json' href='data:application/json;base64,{payload}'>"
        "download as Jaeger JSON</a> (Jaeger UI: Search &rarr; JSON File)"
    )
    parts.append(f"trace id <code>{esc(trace.trace_id)}</code>")
    return " &middot; ".join(parts)
