"""Knobs a notebook or test turns, and the record of what every attempt saw.

The endpoint runs in the same process as the notebook, so these module-level switches
reach the handlers directly. `lab.load("tour/replay")` re-imports this whole package: import
`switches` after loading (and again after a reload), or you hold a copy the handlers no longer read.
"""

import random
import threading
from dataclasses import dataclass, field
from typing import Any

_lock = threading.Lock()
_fail_once = False
_rigged: list[bool] = []


@dataclass(frozen=True)
class Attempt:
    """What one attempt of a handler saw (`values`, filled in as the attempt gets further)."""

    handler: str
    invocation_id: str
    values: dict[str, Any] = field(default_factory=dict)


attempts: list[Attempt] = []


def record(handler: str, invocation_id: str, **values: Any) -> dict[str, Any]:
    """Start the record of a new attempt of `handler`; add later values to the returned dict."""
    attempt = Attempt(handler, invocation_id, dict(values))
    with _lock:
        attempts.append(attempt)
    shown = ", ".join(f"{name}={value!r}" for name, value in values.items())
    print(f"{handler} attempt for {invocation_id}: {shown}")
    return attempt.values


def attempts_of(invocation_id: str) -> list[Attempt]:
    """The recorded attempts of one invocation, oldest first."""
    with _lock:
        return [a for a in attempts if a.invocation_id == invocation_id]


def fail_once() -> None:
    """Make the next handler that reaches `maybe_fail` raise, so Restate retries it once."""
    global _fail_once
    with _lock:
        _fail_once = True


def maybe_fail(where: str) -> None:
    """Raise once after `fail_once()` was called (an ordinary, retryable error)."""
    global _fail_once
    with _lock:
        armed, _fail_once = _fail_once, False
    if armed:
        raise RuntimeError(f"injected failure after {where}")


def rig_coin(*outcomes: bool) -> None:
    """Decide the next `coin()` results (then it is random again)."""
    with _lock:
        _rigged[:] = outcomes


def coin() -> bool:
    """Heads (True) or tails: random, unless rigged."""
    with _lock:
        if _rigged:
            return _rigged.pop(0)
    return random.random() < 0.5


def reset() -> None:
    """Forget recorded attempts, the armed failure and the rigged coin."""
    global _fail_once
    with _lock:
        attempts.clear()
        _rigged.clear()
        _fail_once = False
