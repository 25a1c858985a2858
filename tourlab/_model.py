"""What Restate reports, as small Python objects: invocations, journal entries, timers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Statuses of an invocation that has not finished yet and may still change by itself.
ACTIVE_STATUSES = frozenset({"pending", "ready", "running", "backing-off", "inboxed", "suspended"})


@dataclass(frozen=True)
class Invocation:
    """What Restate knows about one invocation (a row of ``sys_invocation``)."""

    id: str
    target: str
    status: str
    retry_count: int = 0
    last_failure: str | None = None
    trace_id: str | None = None
    idempotency_key: str | None = None
    completion_result: str | None = None
    completion_failure: str | None = None
    created_at: str | None = None
    scheduled_start_at: str | None = None
    invoked_by_id: str | None = None
    invoked_by_target: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Invocation:
        return cls(
            id=row["id"],
            target=row["target"],
            status=row["status"],
            retry_count=int(row.get("retry_count") or 0),
            last_failure=row.get("last_failure"),
            trace_id=row.get("trace_id"),
            idempotency_key=row.get("idempotency_key"),
            completion_result=row.get("completion_result"),
            completion_failure=row.get("completion_failure"),
            created_at=row.get("created_at"),
            scheduled_start_at=row.get("scheduled_start_at"),
            invoked_by_id=row.get("invoked_by_id"),
            invoked_by_target=row.get("invoked_by_target"),
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def failure(self) -> str:
        """The handler's exception line of the last failed attempt ('' if none failed)."""
        return failure_summary(self.last_failure)


def failure_summary(text: str | None) -> str:
    """The exception line out of Restate's failure text (which may end with a traceback)."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    # "[500 Internal] ValueError('...')" first, then the traceback, whose last line is the exception.
    return lines[-1] if any(line.startswith("Traceback") for line in lines) else lines[0]


@dataclass(frozen=True)
class JournalEntry:
    """One entry of an invocation's journal (a row of ``sys_journal``).

    ``name`` is the name of a run step or the key of a state command; ``target`` is the
    handler a call or send goes to; ``completed`` says whether Restate has recorded the result
    of a command that waits for one (a call, a run step, a sleep).
    """

    index: int
    entry_type: str
    name: str | None = None
    target: str | None = None
    completed: bool | None = None
    wake_up_at: str | None = None
    callee_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_command(self) -> bool:
        return self.entry_type.startswith("Command")


def _target_text(target: dict[str, Any]) -> str:
    (_kind, spec), *_ = target.items()
    key = spec.get("key")
    return f"{spec['name']}/{key}/{spec['handler']}" if key is not None else f"{spec['name']}/{spec['handler']}"


def millis_to_iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="milliseconds")


def parse_journal(rows: list[dict[str, Any]]) -> list[JournalEntry]:
    """Turn ``sys_journal`` rows into entries, matching commands with their completions."""
    details = [json.loads(row.get("entry_lite_json") or "{}") for row in rows]
    completed_ids = {
        detail["Notification"]["id"].get("CompletionId")
        for detail in details
        if "Notification" in detail and isinstance(detail["Notification"].get("id"), dict)
    }
    entries = []
    for row, detail in zip(rows, details, strict=True):
        name = row.get("name") or None
        target = callee = wake_up = None
        completed: bool | None = None
        if "Command" in detail:
            (command, body), *_ = detail["Command"].items() if detail["Command"] else [("", {})]
            body = body or {}
            name = name or body.get("name") or body.get("key") or None
            if "invocation_target" in body:
                target = _target_text(body["invocation_target"])
                callee = body.get("invocation_id")
            if command == "Sleep" and "wake_up_time" in body:
                wake_up = millis_to_iso(body["wake_up_time"])
            if command == "OneWayCall" and body.get("invoke_time"):
                wake_up = millis_to_iso(body["invoke_time"])
            waits_for = body.get("result_completion_id", body.get("completion_id"))
            completed = waits_for in completed_ids if waits_for is not None else True
        entries.append(
            JournalEntry(
                index=int(row["index"]),
                entry_type=row["entry_type"],
                name=name,
                target=target,
                completed=completed,
                wake_up_at=wake_up,
                callee_id=callee,
                raw=row,
            )
        )
    return entries


@dataclass(frozen=True)
class Timer:
    """A delayed invocation or a sleep, and when it fires (seconds since the epoch)."""

    kind: str  # "delayed call" or "sleep"
    target: str
    invocation_id: str
    fires_at: float | None
    set_by: str | None = None


def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch of Restate's ISO timestamps (``2026-01-01T10:00:00.123Z``)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def decode_value(value: str | None) -> Any:
    """A state value: JSON where it parses, the raw text otherwise."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value
