"""What every panel shares: the selection, one refresh loop, one read of Restate per round, errors
shown inside the panel.

Panels are ipywidgets boxes. They never raise into the notebook and never print: a failure
while refreshing or handling a click shows up as a red line in the panel itself. Their
``text/plain`` repr names the panel only (no ids, ports or times), so notebooks that show a
panel stay stable under nbval.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import html
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets
import traitlets

from tourlab import Lab
from tourlab.panels._format import error_text, set_if_changed
from tourlab.panels._round import Round

#: Polling intervals of the refresh loop, in seconds.
FAST_INTERVAL = 0.5
TIMER_INTERVAL = 1.0
#: While nothing runs, a full round at most this often (in between: light rounds, see PanelBase.light).
FULL_ROUND_SECONDS = 5.0
#: What a panel of a stopped lab says (when no other lab runs in this kernel to follow).
STOPPED = (
    "This panel belongs to a lab that was stopped. Run the notebook's first cell (open_section) "
    "or Lab.start(...), then section.panel() or Dashboard(lab) again."
)

#: Busy levels a panel reports after refreshing: nothing moves; a countdown ticks (light rounds every
#: second); spans of a finished invocation are still arriving (light rounds every FAST_INTERVAL);
#: an invocation is in flight (full rounds every FAST_INTERVAL).
IDLE, TIMERS, SPANS, ACTIVE = 0, 1, 2, 3


class LabView(traitlets.HasTraits):
    """What the panels look at together: the lab, the user (cart key), seats and selected invocation.

    The lab is the one the panels were made for until it stops; then it is the lab this kernel
    runs now (``Lab.current()``: ``open_section`` starts a fresh one), so an older dashboard in
    the notebook follows instead of turning red.
    """

    invocation_id = traitlets.Unicode(None, allow_none=True)
    user = traitlets.Unicode("Mary")
    seats = traitlets.List(traitlets.Unicode())
    #: Whether the panels list the checks' own invocations (keys ``check-…``).
    show_checks = traitlets.Bool(False)

    def __init__(self, lab: Lab, *, live: bool = True) -> None:
        super().__init__()
        self._lab = lab
        #: How many of the checks' invocations the last round hid (the next reads that many more).
        self.hidden_checks = 0
        self._ran = lab.running  # only a lab seen running can be "stopped" (a test's offline lab never ran)
        self._watched: Callable[[], None] | None = None
        self._unwatch: Callable[[], None] | None = None
        self.refresher = Refresher(self, live=live)

    @property
    def lab(self) -> Lab:
        """The lab shown (switches to ``Lab.current()`` once its own has stopped)."""
        if self._ran and not self._lab.endpoint_running:  # cheap first: a running lab's endpoint is up
            current = Lab.current()
            if current is not None and current is not self._lab:
                self._follow(current)
        return self._lab

    @property
    def lab_stopped(self) -> bool:
        """Whether the shown lab was stopped for good (and no other lab runs in this kernel)."""
        lab = self.lab
        return self._ran and not lab.endpoint_running and not lab.restate_running

    def _follow(self, lab: Lab) -> None:
        self._lab, self._ran = lab, True
        if self._watched is not None:
            self.watch(self._watched)
        self.seats = []
        self.invocation_id = lab.last_invocation_id

    def watch(self, changed: Callable[[], None]) -> None:
        """Call `changed` whenever the shown lab invokes or reloads something (also after a switch)."""
        self.unwatch()
        self._watched = changed
        self._unwatch = self._lab.watch(changed)

    def unwatch(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    def select(self, invocation_id: str | None) -> None:
        """Show this invocation in every panel, now."""
        self.invocation_id = invocation_id
        self.refresher.refresh_now()

    def add_seat(self, seat: str) -> None:
        if seat and seat not in self.seats:
            self.seats = [*self.seats, seat]


class Refresher:
    """One background thread refreshing the registered panels while something is in flight.

    It sleeps on an event while everything is idle (no polling at all), wakes up when poked
    (the notebook called the lab) and then refreshes every FAST_INTERVAL while an invocation is
    active. Otherwise its rounds are light (only the light panels), every FAST_INTERVAL while
    spans arrive and every TIMER_INTERVAL while a timer counts down, with a full round every
    FULL_ROUND_SECONDS. A click costs one round: the
    panel's action runs inside ``click()`` (pokes wait), which ends with one round, and the loop
    carries on from that round's busy level without a round of its own.
    """

    def __init__(self, view: LabView, *, live: bool = True) -> None:
        self.view = view
        self.live = live
        self.panels: list[PanelBase] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._round_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(6, thread_name_prefix="tourlab-panel-read")
        self._level = IDLE
        self._levels: dict[int, int] = {}  # the busy level each panel reported last, by its index
        self._full_at = 0.0  # time.monotonic() of the last full round
        self._due = False  # a poke asked for a round the loop has not done yet
        self._holds = 0
        #: Full refresh rounds done, and light ones (only the light panels: countdowns, late spans).
        self.rounds = self.light_rounds = 0

    def register(self, panel: PanelBase) -> None:
        self.panels.append(panel)

    def new_round(self) -> Round:
        return Round(self.view.lab, self.view, self._pool)

    def poke(self) -> None:
        """Refresh soon (and keep refreshing while something is in flight)."""
        self._due = True
        self._run_loop()

    @contextlib.contextmanager
    def click(self) -> Iterator[None]:
        """Run a click's action: the loop does no rounds meanwhile, then one round shows its effect."""
        self.hold()
        try:
            yield
        finally:
            self.release()

    def hold(self) -> None:
        """A click's action starts: pokes wait (the lab's watcher pokes on every call it makes)."""
        with self._lock:
            self._holds += 1

    def release(self) -> None:
        """The action is done: one round now, unless a newer click still holds (its end refreshes)."""
        with self._lock:
            last = self._holds == 1
        try:
            if last:
                self.refresh_now()  # still held: the loop does not start a round of its own meanwhile
        finally:
            with self._lock:
                self._holds -= 1

    def refresh_now(self, *, light: bool = False) -> int:
        """Refresh every panel once (``light``: only the light ones), in this thread.

        Returns the highest busy level the panels reported; the live loop goes on from it (its
        next round after the interval).
        """
        with self._round_lock:
            if self._stop.is_set():  # closed: nothing left to draw on
                return IDLE
            current = self.new_round()
            if not light:
                self._due = False
                self._full_at = time.monotonic()
                current.prefetch()
            for number, panel in enumerate(self.panels):
                if panel.light or not light:
                    self._levels[number] = panel.refresh(current)
            self.rounds += not light
            self.light_rounds += light
            level = self._level = max(self._levels.values(), default=IDLE)
        if level > IDLE:
            self._run_loop()
        return level

    def stop(self) -> None:
        """Stop the loop for good (the panels are closed)."""
        with self._round_lock:
            self._stop.set()
            self._wake.set()
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _run_loop(self) -> None:
        """Make sure the loop runs and looks at `_due` and `_level` again."""
        if not self.live:
            return
        with self._lock:
            if self._stop.is_set():
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="tourlab-panels", daemon=True)
                self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            timeout = {ACTIVE: FAST_INTERVAL, SPANS: FAST_INTERVAL, TIMERS: TIMER_INTERVAL}.get(self._level)
            woken = self._wake.wait(timeout)  # None: sleep until woken
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._holds or (woken and not self._due):  # a click refreshes for itself; or just re-timed
                continue
            due = self._due or time.monotonic() - self._full_at >= FULL_ROUND_SECONDS
            self.refresh_now(light=self._level < ACTIVE and not due)


class PanelBase(widgets.VBox):
    """A titled box with an error line; subclasses implement `_render(round)` and return a busy level."""

    title = "Panel"
    description = ""
    #: Light panels are refreshed by light rounds too: they change by themselves and read little
    #: (a countdown; a trace whose spans are still arriving). The others: full rounds only.
    light = False

    def __init__(self, lab: Lab, view: LabView | None = None, *, live: bool = True, **kwargs: Any) -> None:
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
        self.layout.min_width = "0"

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self.description or self.title}"

    @property
    def lab(self) -> Lab:
        """The lab shown (the view's: it follows this kernel's running lab)."""
        return self.view.lab

    def refresh(self, current: Round | None = None) -> int:
        """Re-read what this panel shows from Restate; errors stay inside the panel."""
        with self._refresh_lock:
            if self.view.lab_stopped:
                self.show_error(STOPPED)
                return IDLE
            try:
                level = self._render(current or self.view.refresher.new_round())
            except Exception as error:  # noqa: BLE001 - a panel never throws into the notebook
                self.show_error(error)
                return IDLE
            self.show_error(None)
            return level

    def _render(self, current: Round) -> int:
        raise NotImplementedError

    def show_error(self, error: BaseException | str | None) -> None:
        text = None if error is None else (error if isinstance(error, str) else error_text(error))
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
