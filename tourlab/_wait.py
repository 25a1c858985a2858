"""The one way the lab waits: poll a function until its value is what the caller wants."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Polled(Generic[T]):
    """The last value seen, and whether it was the wanted one (False: time ran out)."""

    value: T
    ok: bool


def poll(
    fetch: Callable[[], T],
    done: Callable[[T], object] = bool,
    *,
    timeout: float,
    interval: float = 0.05,
    max_interval: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> Polled[T]:
    """Call `fetch` until `done(value)` holds, `timeout` seconds pass or `stop()` says so.

    `fetch` runs at least once. With `max_interval` the pause grows by half each round up to
    it (quick answers for fast changes, few requests for slow ones). Exceptions of `fetch`
    propagate: the caller decides which failures mean "not yet".
    """
    deadline = time.monotonic() + timeout
    pause = interval
    while True:
        value = fetch()
        if done(value):
            return Polled(value, True)
        left = deadline - time.monotonic()
        if left <= 0 or (stop is not None and stop()):
            return Polled(value, False)
        time.sleep(min(pause, left))
        if max_interval is not None:
            pause = min(pause * 1.5, max_interval)
