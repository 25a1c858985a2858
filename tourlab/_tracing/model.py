"""Spans as Restate exports them, and their tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    def phase(self) -> str:
        """``ingress``, ``invocation-start``, ``invocation-attempt``, ``invocation-end``, ..."""
        return self.name.split(" ", 1)[0]

    @property
    def short_name(self) -> str:
        """``invocation-attempt CartObject/Mary/checkout`` (the concrete target instead of ``{key}``)."""
        return f"{self.phase} {self.target}" if self.target else self.name

    @property
    def commands(self) -> list[str]:
        """Labels of the journal commands recorded as events of this span."""
        return [event.label for event in self.events if COMMAND_TYPE in event.attributes]


_PHASE_ORDER = {"ingress": 0, "invocation-start": 1, "invocation-attempt": 2, "invocation-end": 3}


def span_tree(spans: list[Span]) -> list[tuple[int, Span]]:
    """(depth, span) in display order: parents before children, siblings by start time."""
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    ordered: list[tuple[int, Span]] = []

    def visit(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: (s.start_ns, _PHASE_ORDER.get(s.phase, 9))):
            ordered.append((depth, span))
            visit(span.span_id, depth + 1)

    visit(None, 0)
    return ordered


def first_line(text: str) -> str:
    """The line of a span's status message worth showing (the exception, not the traceback)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if any(line.startswith("Traceback") for line in lines) else lines[0]
