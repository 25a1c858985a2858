"""One refresh round's reads of Restate: each thing read once, side by side, for every panel."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, Protocol

from tourlab import Deployment, Invocation, JournalEntry, Lab, Timer, Trace
from tourlab._model import waiting_for

#: How many recent invocations a round reads.
RECENT = 12
#: Keys of the invocations the course's checks make (hidden in the panels unless asked for).
CHECK_KEY_PREFIX = "check-"

#: Unfinished invocations and the deployment each one is pinned to (it finishes there).
PINNED_SQL = (
    "SELECT id, target, status, pinned_deployment_id FROM sys_invocation "
    "WHERE status <> 'completed' AND pinned_deployment_id IS NOT NULL ORDER BY created_at DESC LIMIT 50"
)


class Selection(Protocol):
    """What a round reads for: the panels' view (``LabView``)."""

    invocation_id: str | None
    user: str
    show_checks: bool
    #: How many of the checks' invocations the last round hid (the next reads that many more).
    hidden_checks: int


class Round:
    """One refresh round's view of Restate: each thing is read once, the reads run side by side.

    Panels ask for what they show (``round.journal(id)``); the first ask starts the read on a
    small thread pool, later asks in the same round get the same answer.
    """

    def __init__(self, lab: Lab, view: Selection, pool: concurrent.futures.Executor) -> None:
        self.lab = lab
        self.view = view
        self._pool = pool
        self._reads: dict[tuple[Any, ...], concurrent.futures.Future[Any]] = {}
        self._lock = threading.Lock()

    def _future(self, key: tuple[Any, ...], fetch: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        with self._lock:
            future = self._reads.get(key)
            if future is None:
                future = self._reads[key] = self._pool.submit(fetch)
            return future

    def _reads_of(self, what: str, arg: str = "") -> tuple[tuple[Any, ...], Callable[[], Any]]:
        lab = self.lab
        fetches: dict[str, Callable[[], Any]] = {
            # Hiding the checks' rows: read as many more as the last round hid (a check's burst of them
            # leaves RECENT to show from the next round on), so that the usual read stays small.
            "recent": lambda: lab.invocations(limit=RECENT + (0 if self.view.show_checks else self.view.hidden_checks)),
            "invocation": lambda: lab.invocation(arg),
            "journal": lambda: lab.journal(arg),
            # The user's cart and every ticket: one query.
            "states": lambda: lab.states([("CartObject", arg)] if arg else [], services=("TicketObject",)),
            "object": lambda: lab.state(*arg.split("/", 1)),
            # The inputs of delayed calls the selected invocation sent come with its journal.
            "timers": lambda: lab.timers(lambda: self.journal(arg) if arg else []),
            "journals": lambda: lab.journals([inv.id for inv in self.recent() if inv.active]),
            "deployments": lab.deployments,
            "pinned": lambda: lab.query(PINNED_SQL),
        }
        return (what, arg), fetches[what]

    def _read(self, what: str, arg: str = "") -> Any:
        return self._future(*self._reads_of(what, arg)).result()

    def prefetch(self) -> None:
        """Start every read the dashboard needs at once; their answers are waited for on use."""
        # The costliest first (they scan every invocation): the threads start one after the other.
        selected = self.view.invocation_id or ""
        wanted = [("timers", selected), ("recent", ""), ("states", self.view.user), ("journals", "")]
        if selected:
            wanted.insert(3, ("journal", selected))
        for what, arg in wanted:
            self._future(*self._reads_of(what, arg))

    def recent(self) -> list[Invocation]:
        """The newest invocations (without the checks' own unless the view shows them)."""
        found: list[Invocation] = self._read("recent")
        if not self.view.show_checks:
            shown = [inv for inv in found if not is_check(inv)]
            self.view.hidden_checks = min(len(found) - len(shown), 3 * RECENT)
            found = shown
        return found[:RECENT]

    def deployments(self) -> tuple[list[Deployment], list[dict[str, Any]]]:
        """The deployments, and the unfinished invocations with the deployment each is pinned to (side by side)."""
        deployments, pinned = (self._future(*self._reads_of(what)) for what in ("deployments", "pinned"))
        return deployments.result(), pinned.result()

    def object_state(self, service: str, key: str) -> dict[str, Any]:
        """The K/V state of one object or workflow key."""
        found: dict[str, Any] = self._read("object", f"{service}/{key}")
        return found

    def invocation(self, invocation_id: str) -> Invocation | None:
        """One invocation: from the recent list when it is there, else read on its own."""
        listed = next((inv for inv in self.recent() if inv.id == invocation_id), None)
        found: Invocation | None = listed or self._read("invocation", invocation_id)
        return found

    def journal(self, invocation_id: str) -> list[JournalEntry]:
        found: list[JournalEntry] = self._read("journal", invocation_id)
        return found

    def cart(self) -> dict[str, Any]:
        found: dict[str, Any] = self._read("states", self.view.user).get(("CartObject", self.view.user), {})
        return found

    def tickets(self) -> dict[str, dict[str, Any]]:
        """The state of every ticket Restate knows, by seat."""
        states: dict[tuple[str, str], dict[str, Any]] = self._read("states", self.view.user)
        return {key: state for (service, key), state in states.items() if service == "TicketObject"}

    def timers(self) -> list[Timer]:
        """Delayed calls and sleeps, soonest first."""
        found: list[Timer] = self._read("timers", self.view.invocation_id or "")
        return found

    def waiting_for(self, invocation: Invocation) -> str | None:
        """What an unfinished invocation of the recent list waits for (its journal is read with the others)."""
        if not invocation.active:
            return waiting_for(invocation, [])
        journals: dict[str, list[JournalEntry]] = self._read("journals")
        return waiting_for(invocation, journals.get(invocation.id) or self.journal(invocation.id))

    def trace(self, invocation_id: str) -> Trace | None:
        """The spans received so far (no waiting); None when the lab has no trace source."""
        if self.lab.traces is None:
            return None
        return self.lab.traces.trace_of(self.invocation(invocation_id), invocation_id, timeout=0)


def is_check(invocation: Invocation) -> bool:
    """Whether a course check made this invocation (its object key starts with ``check-``)."""
    found = object_of(invocation.target)
    return found is not None and found[1].startswith(CHECK_KEY_PREFIX)


def object_of(target: str) -> tuple[str, str] | None:
    """``("CartObject", "Mary")`` for ``CartObject/Mary/addTicket``; None for a plain service's target."""
    parts = target.split("/")
    return (parts[0], parts[1]) if len(parts) == 3 else None
