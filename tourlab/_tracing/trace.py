"""One trace for people: a waterfall in a notebook, a span tree as text, Jaeger JSON to download."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from tourlab._tracing.jaeger import to_jaeger
from tourlab._tracing.model import Span, first_line, span_tree
from tourlab._tracing.waterfall import NO_SPANS, waterfall_html


class Trace:
    """The spans of one trace. The text form leaves out ids and timings, so it reads the same every run."""

    def __init__(self, trace_id: str, spans: list[Span], *, invocation_id: str | None = None) -> None:
        self.trace_id = trace_id
        self.spans = spans
        self.invocation_id = invocation_id

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[Span]:
        return iter(self.spans)

    @property
    def attempts(self) -> list[Span]:
        """The ``invocation-attempt`` spans, in order."""
        return [span for span in self.spans if span.phase == "invocation-attempt"]

    @property
    def failed_attempts(self) -> list[Span]:
        return [span for span in self.attempts if span.failed]

    def tree(self) -> list[tuple[int, Span]]:
        return span_tree(self.spans)

    @property
    def root_target(self) -> str:
        return next((span.target for _depth, span in self.tree() if span.target), "?")

    @property
    def service(self) -> str:
        return next((span.service for span in self.spans if span.service), "?")

    def text(self) -> str:
        if not self.spans:
            return NO_SPANS
        lines = [f"Trace of {self.root_target}: {len(self.spans)} spans, service.name={self.service}"]
        for depth, span in self.tree():
            mark = "  FAILED: " + first_line(span.status_message) if span.failed else ""
            commands = f"  [{', '.join(span.commands)}]" if span.commands else ""
            lines.append(f"{'  ' * depth}{span.short_name}{commands}{mark}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def html(self) -> str:
        """The waterfall, with the spans of the invocation the trace was asked for in bold."""
        return waterfall_html(self.spans, highlight=self.invocation_id)

    def _repr_html_(self) -> str:
        return self.html()

    def jaeger_json(self) -> str:
        """This trace in the JSON format Jaeger's UI accepts under "Search > JSON File"."""
        return json.dumps(to_jaeger(self.trace_id, self.spans), indent=1)

    def save_jaeger_json(self, path: str | os.PathLike[str]) -> str:
        """Write the Jaeger JSON to `path`; returns the path."""
        Path(path).write_text(self.jaeger_json())
        return str(path)
