"""Small helpers shared by the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tourlab import Lab

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; returns that value (or the last falsy one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def invocation_of(lab: Lab, target: str, timeout: float = 10.0) -> str:
    """The id of the newest invocation of `target` (e.g. ``CartObject/Mary/expireTicket``), once it exists."""

    def newest() -> str | None:
        found = lab.invocations(target=target, limit=1)
        return found[0].id if found else None

    invocation_id = eventually(newest, timeout)
    assert invocation_id, f"no invocation of {target} appeared"
    return invocation_id
