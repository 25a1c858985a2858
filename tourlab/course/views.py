"""Compact, stable views of what Restate recorded, for notebook output."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tourlab import PROJECT_ROOT, Invocation, JournalEntry


@dataclass(frozen=True)
class Shown:
    """Text for a notebook: printed without quotes, and as Markdown where ``markdown`` is set."""

    text: str
    markdown: str | None = None

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str | None:
        return self.markdown


def journal_view(entries: list[JournalEntry]) -> Shown:
    """One line per journal entry: index, type, what it targets, whether it completed."""
    lines = []
    for entry in entries:
        parts = [f"#{entry.index}", entry.entry_type.ljust(33)]
        if entry.target:
            parts.append(f"-> {entry.target}")
        if entry.name:
            parts.append(f"[{entry.name}]")
        if entry.wake_up_at:
            parts.append(f"at {entry.wake_up_at}")
        if entry.is_command and entry.completed is False:
            parts.append("(waiting)")
        lines.append(" ".join(parts).rstrip())
    return Shown("\n".join(lines))


def invocations_view(invocations: list[Invocation]) -> Shown:
    """Target and status of each invocation, oldest first, with who called it."""
    by_id = {inv.id: inv for inv in invocations}
    width = max((len(inv.target) for inv in invocations), default=0)
    lines = []
    for inv in sorted(invocations, key=lambda i: (i.created_at or "", i.target)):
        line = f"{inv.target.ljust(width)}  {inv.status}"
        caller = by_id.get(inv.invoked_by_id or "")
        if caller is not None:
            line += f"  (called by {caller.target})"
        lines.append(line)
    return Shown("\n".join(lines))


def code_view(path: str | Path) -> Shown:
    """A source file of the project, shown as highlighted code."""
    file = Path(path)
    if not file.is_absolute():
        file = PROJECT_ROOT / file
    text = file.read_text()
    label = file.relative_to(PROJECT_ROOT) if file.is_relative_to(PROJECT_ROOT) else file
    return Shown(text.rstrip(), f"`{label}`\n```python\n{text}```")


def seconds_between(start: str, end: str) -> float:
    """Seconds between two of Restate's ISO timestamps."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
