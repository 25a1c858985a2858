"""Follow an invocation until it finishes or cannot: the one way the lab waits for an invocation.

``Lab.call``, the grader's probe and the invoke bar all follow through ``follow``, so they share
one rule:

- *When to ask what blocks it* (``why_stuck``): once it has been unfinished for ``DIAGNOSE_AFTER``
  seconds, then every ``DIAGNOSE_EVERY`` seconds. A failing invocation gets the same grace: Restate
  retries after 0.5 s and the retry may succeed (the tour's "fail once" demos), and a callee or the
  holder of its key may fail where the invocation itself does not show it.
- *What counts as stuck* (``Followed.blocked``): what it depends on fails like a bug, is paused or
  waits for itself. A passing failure (a network or a provider having a bad moment) is not: the
  invocation may still finish, so following goes on and the last diagnosis is there for the caller
  to report when its time runs out.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tourlab._client import AdminIngressClient
from tourlab._diagnose import Stuck, why_stuck
from tourlab._errors import InvocationError, InvocationTimeoutError
from tourlab._model import Invocation
from tourlab._wait import Polled, poll

#: How long an invocation may stay unfinished before follow asks what blocks it, and how often after that.
DIAGNOSE_AFTER = 1.0
DIAGNOSE_EVERY = 0.5


class Cadence:
    """The rule for when to ask what blocks an invocation, on the clock `follow` passes in."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.last: float | None = None

    def due(self, invocation: Invocation, now: float) -> bool:
        """Whether to diagnose `invocation` now; a yes counts as a diagnosis made at `now`."""
        if invocation.status == "completed":
            return False
        due = now - self.started >= DIAGNOSE_AFTER and (self.last is None or now - self.last >= DIAGNOSE_EVERY)
        if due:
            self.last = now
        return due


@dataclass(frozen=True)
class Followed:
    """What following saw last: the invocation (None: not found yet) and the latest diagnosis."""

    invocation: Invocation | None
    #: What keeps it from finishing, as last diagnosed (None: nothing fails, or not asked yet).
    stuck: Stuck | None = None
    #: Whether `stuck` was diagnosed in this very round.
    diagnosed: bool = False
    #: Whether the caller's own wait (``answer``) got the answer.
    answered: bool = False

    @property
    def status(self) -> str | None:
        return self.invocation.status if self.invocation is not None else None

    @property
    def finished(self) -> bool:
        return self.answered or self.status == "completed"

    @property
    def blocked(self) -> bool:
        """Whether it cannot finish by itself: what it depends on fails like a bug, is paused or deadlocked."""
        return self.stuck is not None and not self.stuck.transient


def follow(
    client: AdminIngressClient,
    invocation: str | Callable[[], Invocation | None],
    *,
    timeout: float,
    until: Callable[[Followed], object] | None = None,
    answer: Callable[[float], bool] | None = None,
    interval: float = 0.02,
    stop_when_blocked: bool = True,
    stop: Callable[[], bool] | None = None,
) -> Polled[Followed]:
    """Read `invocation` (an id, or how to find it) in rounds until it finished, is blocked or `until` holds.

    `answer(seconds)` is the caller's own way to wait for the result (its call, an attach): each
    round starts with it instead of a pause of `interval`, and True ends the following at once.
    ``stop_when_blocked=False`` keeps following a blocked invocation (a fix and a resume may free
    it). ``ok`` is False when `timeout` ran out or `stop()` said so.
    """
    cadence = Cadence(time.monotonic())
    last: list[Stuck | None] = [None]

    def read() -> Invocation | None:
        return client.invocation(invocation) if isinstance(invocation, str) else invocation()

    def look() -> Followed:
        if answer is not None and answer(interval):
            return Followed(None, last[0], answered=True)
        found = read()
        if found is None or not cadence.due(found, time.monotonic()):
            return Followed(found, last[0])
        last[0] = why_stuck(client, found)
        return Followed(found, last[0], diagnosed=True)

    def settled(seen: Followed) -> bool:
        return seen.finished or (stop_when_blocked and seen.blocked) or (until is not None and bool(until(seen)))

    return poll(look, settled, timeout=timeout, interval=0 if answer is not None else interval, stop=stop)


def answer_or_stuck(
    client: AdminIngressClient, answer: concurrent.futures.Future[Any], target: str, timeout: float
) -> Any:
    """The result of a call running in the background (`answer`) to `target`, followed while it runs.

    When it is blocked, InvocationError names what blocks it and how to unblock it, at once;
    when it times out with a passing failure, the timeout says which.
    """

    def unfinished() -> Invocation | None:
        waiting = [inv for inv in client.invocations(target=target, limit=5) if inv.target == target]
        return next((inv for inv in waiting if inv.status != "completed"), None)

    def answered(seconds: float) -> bool:
        return bool(concurrent.futures.wait([answer], timeout=seconds).done)

    seen = follow(client, unfinished, timeout=timeout, answer=answered, interval=DIAGNOSE_EVERY).value
    if not seen.finished and seen.blocked and seen.stuck is not None:
        client.last_invocation_id = seen.stuck.asked.id
        raise InvocationError(f"{target} gets no answer. {seen.stuck}", invocation_id=seen.stuck.asked.id)
    try:
        return answer.result()
    except InvocationTimeoutError as late:
        found = unfinished()
        stuck = why_stuck(client, found) if found is not None else None
        if stuck is None:
            raise
        client.last_invocation_id = stuck.asked.id
        raise InvocationTimeoutError(f"{late} {stuck}", invocation_id=stuck.asked.id) from None
