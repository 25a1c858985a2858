"""Durable timers: delayed calls waiting to start and sleeps waiting to wake up, counting down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from tourlab.panels._base import (
    IDLE,
    TIMERS,
    LabView,
    PanelBase,
    clock,
    countdown,
    esc,
    parse_time,
    set_if_changed,
    table,
)

if TYPE_CHECKING:
    from tourlab._lab import Lab

#: Re-read the timers from Restate at most this often while only counting down (seconds).
REQUERY_SECONDS = 2.0


@dataclass(frozen=True)
class Timer:
    """A delayed invocation or a sleep, and when it fires (seconds since the epoch)."""

    kind: str  # "delayed call" or "sleep"
    target: str
    invocation_id: str
    fires_at: float | None
    set_by: str | None = None


class TimersPanel(PanelBase):
    """Scheduled invocations (``send`` with a delay, e.g. the reservation expiry) and pending sleeps."""

    title = "Timers"
    description = "scheduled calls and sleeps with a countdown"
    counts_down = True

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.table = widgets.HTML("")
        self.timers: list[Timer] = []
        self._queried_at = 0.0
        self._compose(self.table)

    def _render(self) -> int:
        import time

        now = time.time()
        due = any(timer.fires_at is not None and timer.fires_at <= now for timer in self.timers)
        if due or now - self._queried_at >= REQUERY_SECONDS or not self.timers:
            self.timers = self._query()
            self._queried_at = now
        rows = [
            [
                esc(timer.kind),
                f"<code>{esc(timer.target)}</code>",
                f"<b>{esc(countdown(timer.fires_at, now))}</b>",
                esc(clock(timer.fires_at)),
                f"<code>{esc(timer.set_by)}</code>",
            ]
            for timer in self.timers
        ]
        body = (
            table(["timer", "target", "fires", "at", "set by"], rows)
            if rows
            else "<i>No pending timers. Try addTicket (from part 2 on it schedules expireTicket).</i>"
        )
        set_if_changed(self.table, body)
        return TIMERS if self.timers else IDLE

    def refresh_from_restate(self) -> list[Timer]:
        """Re-read the timers now (instead of at the next periodic re-read)."""
        self._queried_at = 0.0
        self.refresh()
        return self.timers

    def _query(self) -> list[Timer]:
        client = self.lab.client
        timers = [
            Timer(
                "delayed call",
                row["target"],
                row["id"],
                parse_time(row.get("scheduled_start_at")),
                row.get("invoked_by_target") or ("ingress" if row.get("invoked_by") == "ingress" else None),
            )
            for row in client.query(
                # Restate 1.7 leaves scheduled_start_at empty unless the query selects every column.
                "SELECT * FROM sys_invocation WHERE status = 'scheduled' LIMIT 50"
            )
        ]
        sleeping = client.query(
            "SELECT DISTINCT j.id AS id, i.target AS target FROM sys_journal j JOIN sys_invocation i ON j.id = i.id "
            "WHERE j.entry_type = 'Command: Sleep' AND i.status <> 'completed' LIMIT 50"
        )
        for row in sleeping:
            for entry in client.journal(row["id"]):
                if entry.entry_type == "Command: Sleep" and not entry.completed:
                    timers.append(Timer("sleep", row["target"], row["id"], parse_time(entry.wake_up_at), row["target"]))
        timers.sort(key=lambda timer: timer.fires_at or 0)
        return timers
