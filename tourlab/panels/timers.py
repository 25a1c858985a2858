"""Durable timers: delayed calls waiting to start and sleeps waiting to wake up, counting down."""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets

from tourlab import Lab, Timer
from tourlab.panels._base import IDLE, TIMERS, LabView, PanelBase
from tourlab.panels._format import clock, countdown, esc, set_if_changed, table
from tourlab.panels._round import Round


class TimersPanel(PanelBase):
    """Scheduled invocations (``send`` with a delay, e.g. the reservation expiry) and pending sleeps."""

    title = "Timers"
    description = "scheduled calls and sleeps with a countdown"
    light = True

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.table = widgets.HTML("")
        self.timers: list[Timer] = []
        self._compose(self.table)

    def _render(self, current: Round) -> int:
        now = time.time()
        self.timers = current.timers()
        rows = [
            [
                _countdown_cell(timer, now),
                f"<span style='white-space:nowrap'>{esc(timer.kind)}</span>",
                _call_cell(timer),
            ]
            for timer in self.timers
        ]
        body = (  # the countdown first: a narrow panel scrolls the long calls, not the time left
            table(["fires (hover: at)", "timer", "call (hover: set by)"], rows)
            if rows
            else "<i>No pending timers. Try addTicket (from part 2 on it schedules expireTicket).</i>"
        )
        set_if_changed(self.table, body)
        return TIMERS if self.timers else IDLE

    def refresh_from_restate(self) -> list[Timer]:
        """Re-read the timers now and return them."""
        self.refresh()
        return self.timers


def _call_cell(timer: Timer) -> str:
    """The call; it may wrap anywhere, so a narrow panel shows it whole on two lines rather than cut."""
    return f"<code title='set by {esc(timer.set_by)}' style='overflow-wrap:anywhere'>{esc(timer.call_text)}</code>"


def _countdown_cell(timer: Timer, now: float) -> str:
    left = esc(countdown(timer.fires_at, now))
    return f"<span title='{esc(clock(timer.fires_at))}' style='white-space:nowrap'><b>{left}</b></span>"
