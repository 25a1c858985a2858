"""How panels write what they show: HTML tables, escaped text, countdowns, and widget updates without flicker."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import ipywidgets as widgets


def error_text(error: BaseException) -> str:
    """A failure in words a learner can act on."""
    if isinstance(error, httpx.TransportError):
        return "Restate does not answer (is the server running?). Try lab.restart_server() if it stays like this."
    return str(error).strip() or type(error).__name__


def set_if_changed(widget: widgets.Widget, value: Any, trait: str = "value") -> None:
    """Assign only real changes: no redraw, no flicker when nothing moved."""
    if getattr(widget, trait) != value:
        setattr(widget, trait, value)


def countdown(at: float | None, now: float | None = None) -> str:
    """``in 12.3 s`` / ``in 14 min 58 s`` / ``due now``."""
    if at is None:
        return "?"
    left = at - (time.time() if now is None else now)
    if left <= 0:
        return "due now"
    if left < 60:
        return f"in {left:.1f} s"
    minutes, seconds = divmod(int(left), 60)
    return f"in {minutes} min {seconds:02d} s"


def clock(at: float | None) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%H:%M:%S UTC") if at is not None else "?"


def table(headers: list[str], rows: list[list[str]], *, highlight: int | None = None) -> str:
    """A small HTML table; cells are escaped by the caller's choice (pass HTML already escaped)."""
    head = "".join(f"<th style='text-align:left;padding:1px 8px 1px 0'>{h}</th>" for h in headers)
    body = []
    for number, row in enumerate(rows):
        style = " style='background:#fef9c3'" if number == highlight else ""
        cells = "".join(f"<td style='padding:1px 8px 1px 0;vertical-align:top'>{cell}</td>" for cell in row)
        body.append(f"<tr{style}>{cells}</tr>")
    return (
        "<div style='overflow-x:auto'><table style='border-collapse:collapse;font-family:monospace;font-size:12px'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))
