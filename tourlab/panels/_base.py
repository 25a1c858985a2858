"""What every panel shares: the selection, one refresh loop and errors shown inside the panel.

Panels are ipywidgets boxes. They never raise into the notebook and never print: a failure
while refreshing or handling a click shows up as a red line in the panel itself. Their
``text/plain`` repr names the panel only (no ids, ports or times), so notebooks that show a
panel stay stable under nbval.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

if TYPE_CHECKING:
    from tourlab._lab import Lab

log = logging.getLogger(__name__)

#: Statuses of an invocation that is still doing something (refresh fast while one is around).
ACTIVE_STATUSES = frozenset({"pending", "ready", "running", "backing-off", "inboxed"})
#: Polling intervals of the refresh loop, in seconds.
FAST_INTERVAL = 0.5
TIMER_INTERVAL = 1.0
#: While only timers count down, every n-th tick refreshes all panels (the others: the countdown only).
FULL_ROUND_EVERY = 5

#: Busy levels a panel reports after refreshing.
IDLE, TIMERS, ACTIVE = 0, 1, 2


class LabView(traitlets.HasTraits):
    """What the panels look at together: the user (cart key), seats and selected invocation."""

    invocation_id = traitlets.Unicode(None, allow_none=True)
    user = traitlets.Unicode("Mary")
    seats = traitlets.List(traitlets.Unicode())

    def __init__(self, lab: Lab, *, live: bool = True) -> None:
        super().__init__()
        self.lab = lab
        self.refresher = Refresher(live=live)

    def select(self, invocation_id: str | None) -> None:
        """Show this invocation in every panel."""
        self.invocation_id = invocation_id
        self.refresher.poke()

    def add_seat(self, seat: str) -> None:
        if seat and seat not in self.seats:
            self.seats = [*self.seats, seat]


class Refresher:
    """One background thread refreshing the registered panels while something is in flight.

    It sleeps on an event while everything is idle (no polling at all), wakes up when poked
    (a call was made, a button pressed) and then refreshes every FAST_INTERVAL while an
    invocation is active, every TIMER_INTERVAL while only timers count down.
    """

    def __init__(self, *, live: bool = True) -> None:
        self.live = live
        self.panels: list[PanelBase] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.rounds = 0

    def register(self, panel: PanelBase) -> None:
        self.panels.append(panel)

    def poke(self) -> None:
        """Refresh soon (and keep refreshing while something is in flight)."""
        if not self.live:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="tourlab-panels", daemon=True)
                self._thread.start()
        self._wake.set()

    def refresh_now(self) -> int:
        """Refresh every panel once, in this thread; returns the highest busy level reported."""
        level = IDLE
        for panel in list(self.panels):
            level = max(level, panel.refresh())
        self.rounds += 1
        return level

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def tick_countdowns(self) -> int:
        """Between full rounds, while only timers count down: refresh just the panels that count."""
        level = IDLE
        for panel in list(self.panels):
            if panel.counts_down:
                level = max(level, panel.refresh())
        return level

    def _loop(self) -> None:
        level = ACTIVE
        ticks = 0
        while not self._stop.is_set():
            timeout = {ACTIVE: FAST_INTERVAL, TIMERS: TIMER_INTERVAL}.get(level)
            poked = self._wake.wait(timeout)  # None: sleep until poked
            self._wake.clear()
            if self._stop.is_set():
                return
            ticks += 1
            if level == TIMERS and not poked and ticks % FULL_ROUND_EVERY:
                level = max(self.tick_countdowns(), TIMERS)
            else:
                level = self.refresh_now()


class PanelBase(widgets.VBox):
    """A titled box with an error line; subclasses implement `_render()` and return a busy level."""

    title = "Panel"
    description = ""
    #: Refreshed every second while a timer counts down (the others every FULL_ROUND_EVERY seconds).
    counts_down = False

    def __init__(self, lab: Lab, view: LabView | None = None, *, live: bool = True, **kwargs: Any) -> None:
        self.lab = lab
        self.view = view or LabView(lab, live=live)
        self._owns_view = view is None
        self._refresh_lock = threading.Lock()
        self.error = widgets.HTML("")
        self.last_error: str | None = None
        super().__init__(**kwargs)
        self.view.refresher.register(self)

    def _compose(self, *children: widgets.Widget) -> None:
        header = widgets.HTML(f"<b>{html.escape(self.title)}</b>")
        self.children = (header, *children, self.error)
        self.layout.border = "1px solid #ddd"
        self.layout.padding = "4px 8px"
        self.layout.margin = "2px"

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self.description or self.title}"

    def refresh(self) -> int:
        """Re-read what this panel shows from Restate; errors stay inside the panel."""
        with self._refresh_lock:
            try:
                level = self._render()
            except Exception as error:  # noqa: BLE001 - a panel never throws into the notebook
                self.show_error(error)
                return IDLE
            self.show_error(None)
            return level

    def _render(self) -> int:
        raise NotImplementedError

    def show_error(self, error: BaseException | str | None) -> None:
        text = None if error is None else (error if isinstance(error, str) else _error_text(error))
        self.last_error = text
        set_if_changed(self.error, f"<span style='color:#dc2626'>{html.escape(text)}</span>" if text else "")

    def guarded(self, action: Callable[..., Any]) -> Callable[..., None]:
        """Wrap a button callback so that its errors show in the panel instead of the notebook."""

        def run(*args: Any) -> None:
            try:
                action(*args)
            except Exception as error:  # noqa: BLE001 - shown in the panel
                self.show_error(error)

        return run

    def close(self) -> None:
        if self._owns_view:
            self.view.refresher.stop()
        super().close()


def _error_text(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if "Connect" in type(error).__name__ or "ConnectError" in text:
        text = f"Restate does not answer ({text}). Is the server running? Try lab.restart_server()."
    return text


def set_if_changed(widget: widgets.Widget, value: Any, trait: str = "value") -> None:
    """Assign only real changes: no redraw, no flicker when nothing moved."""
    if getattr(widget, trait) != value:
        setattr(widget, trait, value)


def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch of Restate's ISO timestamps (``2026-01-01T10:00:00.123Z``)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


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
        cells = "".join(
            f"<td style='padding:1px 8px 1px 0;vertical-align:top;white-space:nowrap'>{cell}</td>" for cell in row
        )
        body.append(f"<tr{style}>{cells}</tr>")
    return (
        "<div style='overflow-x:auto'><table style='border-collapse:collapse;font-family:monospace;font-size:12px'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))
