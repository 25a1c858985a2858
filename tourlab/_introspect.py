"""What a lab reads back from Restate: invocations, journals, state, timers and why something is stuck.

Mixed into ``Lab``, which keeps its life cycle, invoking and code loading to itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tourlab._client import AdminIngressClient
from tourlab._diagnose import Stuck, why_stuck
from tourlab._errors import LabError
from tourlab._follow import Followed, follow
from tourlab._model import Deployment, Invocation, InvocationStatus, JournalEntry, Timer, waiting_for
from tourlab._tracing import Trace, TraceSource
from tourlab._wait import Polled


class Introspection:
    """The reading half of ``Lab``: every method goes through `client`."""

    #: Where the lab reads traces (None: tracing is off, ``tracing_problem`` says why).
    traces: TraceSource | None
    tracing_problem: str | None

    @property
    def client(self) -> AdminIngressClient:
        raise NotImplementedError

    @property
    def last_invocation_id(self) -> str | None:
        """The invocation id of the latest call or send made through this lab."""
        return self.client.last_invocation_id

    def _id(self, invocation_id: str | None) -> str:
        chosen = invocation_id or self.last_invocation_id
        if chosen is None:
            raise LabError("No invocation yet: make a call first or pass an invocation id.")
        return chosen

    def invocation(self, invocation_id: str | None = None) -> Invocation | None:
        """Status, retries and last failure of an invocation (default: the latest one)."""
        return self.client.invocation(self._id(invocation_id))

    def invocations(self, *, target: str | None = None, limit: int = 20) -> list[Invocation]:
        """Recent invocations, newest first."""
        return self.client.invocations(target=target, limit=limit)

    def journal(self, invocation_id: str | None = None) -> list[JournalEntry]:
        """The journal of an invocation (default: the latest one)."""
        return self.client.journal(self._id(invocation_id))

    def journals(self, invocation_ids: list[str]) -> dict[str, list[JournalEntry]]:
        """The journals of several invocations at once."""
        return self.client.journals(invocation_ids)

    def waiting_for(self, invocation_id: str | None = None) -> str | None:
        """What an unfinished invocation (default: the latest) waits for, in words."""
        invocation = self.invocation(invocation_id)
        return waiting_for(invocation, self.journal(invocation.id)) if invocation is not None else None

    def state(self, service: str, key: str) -> dict[str, Any]:
        """The K/V state Restate stores for one Virtual Object key."""
        return self.client.state(service, key)

    def states(
        self, objects: list[tuple[str, str]], *, services: tuple[str, ...] = ()
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The K/V state of several (service, key) objects, and of every key of `services`, at once."""
        return self.client.states(objects, services=services)

    def service_state(self, service: str) -> dict[str, dict[str, Any]]:
        """The K/V state of every key of a Virtual Object, by key."""
        return self.client.service_state(service)

    def timers(self, senders: Callable[[], list[JournalEntry]] = list) -> list[Timer]:
        """Delayed calls and sleeps that have not fired yet, soonest first (`senders`: see the client's)."""
        return self.client.timers(senders)

    def query(self, sql: str) -> list[dict[str, Any]]:
        """SQL over Restate's introspection tables."""
        return self.client.query(sql)

    def wait_for(
        self, invocation_id: str | None = None, *statuses: InvocationStatus, timeout: float = 30.0
    ) -> Invocation:
        """Wait until an invocation reaches a status (default: completed)."""
        return self.client.wait_for(self._id(invocation_id), statuses or ("completed",), timeout=timeout)

    def why_stuck(self, invocation_id: str | None = None) -> Stuck | None:
        """What keeps an invocation (default: the latest one) from finishing: the one that keeps failing."""
        invocation = self.invocation(invocation_id)
        return why_stuck(self.client, invocation) if invocation is not None else None

    def follow(
        self,
        invocation_id: str | None = None,
        *,
        timeout: float = 30.0,
        until: Callable[[Followed], object] | None = None,
        answer: Callable[[float], bool] | None = None,
        interval: float = 0.02,
        stop_when_blocked: bool = True,
        stop: Callable[[], bool] | None = None,
    ) -> Polled[Followed]:
        """Follow an invocation (default: the latest) until it finished, is stuck or `until` holds.

        The lab's one rule for when to ask what blocks an invocation and what counts as stuck:
        see ``tourlab._follow.follow``.
        """
        return follow(
            self.client,
            self._id(invocation_id),
            timeout=timeout,
            until=until,
            answer=answer,
            interval=interval,
            stop_when_blocked=stop_when_blocked,
            stop=stop,
        )

    def deployments(self) -> list[Deployment]:
        """The deployments Restate knows, newest first: active, draining (invocations still pinned) or drained."""
        return self.client.deployments()

    def trace(self, invocation_id: str | None = None, *, timeout: float = 5.0) -> Trace:
        """The spans of an invocation's trace (default: the latest one), as Restate exported them.

        Waits up to `timeout` for the spans of a finished invocation to arrive (~0.2 s).
        Shown in a notebook it is a waterfall; ``print()`` it for the span tree.
        """
        if self.traces is None:
            raise LabError(self.tracing_problem or "Tracing is off for this lab.")
        chosen = self._id(invocation_id)
        return self.traces.trace_of(self.client.invocation(chosen), chosen, timeout=timeout)
