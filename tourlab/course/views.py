"""Compact, stable text views of what Restate recorded, for notebook output."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tourlab import _config
from tourlab._client import Invocation, JournalEntry
from tourlab._errors import InvocationError
from tourlab._lab import Lab


@dataclass(frozen=True)
class View:
    """Text that prints without quotes; Markdown in JupyterLab when ``markdown`` is set."""

    text: str
    markdown: str | None = None

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str | None:
        return self.markdown


def journal_view(entries: list[JournalEntry]) -> View:
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
    return View("\n".join(lines))


def invocations_view(invocations: list[Invocation]) -> View:
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
    return View("\n".join(lines))


def code_view(path: str | Path) -> View:
    """A source file of the project, shown as highlighted code."""
    file = Path(path)
    if not file.is_absolute():
        file = _config.PROJECT_ROOT / file
    text = file.read_text()
    label = file.relative_to(_config.PROJECT_ROOT) if file.is_relative_to(_config.PROJECT_ROOT) else file
    return View(text.rstrip(), f"`{label}`\n```python\n{text}```")


def output_of(lab: Lab, invocation_id: str) -> Any:
    """The result of a completed invocation, fetched from Restate."""
    response = lab.client.http.get(f"{lab.ingress_url}/restate/invocation/{invocation_id}/output")
    if not response.is_success:
        raise InvocationError(f"No result for {invocation_id}: {response.text.strip()}")
    return response.json() if response.content else None


def wait_for_retries(lab: Lab, invocation_id: str, retries: int, *, timeout: float = 20.0) -> Invocation:
    """Wait until Restate has retried a failing invocation `retries` times and is backing off."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = lab.invocation(invocation_id)
        if seen is not None and seen.retry_count >= retries and seen.status == "backing-off":
            return seen
        time.sleep(0.05)
    raise InvocationError(f"{invocation_id} was not retried {retries} times within {timeout:g} s: {seen}")


def seconds_between(start: str, end: str) -> float:
    """Seconds between two of Restate's ISO timestamps."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
