"""The probe the checks share: it drives the learner's handlers through Restate and reads back what happened.

A check gets its own Virtual Object keys (nobody else uses them) from the probe, drives handlers
over Restate's ingress, then looks at results, journals, K/V state and the tour's stand-ins for
the outside world (payment ledger, e-mail outbox). The first behaviour that is off ends the check
(``Probe.fail``) with what happened, and a hint that fits that failure. A handler that is stuck,
its own or one it calls, ends the check as soon as the lab's one rule finds it (``Lab.follow``);
whatever the check started and left unfinished is killed before it returns.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from tour.auxiliary import email_client
from tourlab import Followed, Invocation, InvocationError, JournalEntry, Lab, LabError, Stuck, poll
from tourlab._client import NO_ARG
from tourlab._model import FAILING_STATUSES
from tourlab.course.exercises.hints import error_hint


class CheckFailedError(LabError):
    """A behaviour of the learner's code is not what the exercise asks for; `hint` fits this failure."""

    def __init__(self, problem: str, *, hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


_CALLS = ("Command: Call", "Command: OneWayCall")
_FAILING = FAILING_STATUSES


def _target(service: str, key: str | None, handler: str) -> str:
    return f"{service}/{handler}" if key is None else f"{service}/<key>/{handler}"


def key_of(target: str | None) -> str:
    """The Virtual Object key of ``Service/key/handler`` ('' for a service)."""
    parts = (target or "").split("/")
    return parts[1] if len(parts) == 3 else ""


@dataclass
class Seen:
    """An invocation and its journal, as last read."""

    invocation: Invocation | None
    entries: list[JournalEntry]

    @property
    def done(self) -> bool:
        return self.invocation is not None and self.invocation.status == "completed"

    @property
    def status(self) -> str | None:
        return self.invocation.status if self.invocation else None


class Probe:
    """Drives the learner's handlers through Restate, reads back what happened, cleans up after itself."""

    def __init__(self, lab: Lab, *, timeout: float = 8.0) -> None:
        self.lab = lab
        self.timeout = timeout
        self.run = uuid.uuid4().hex[:8]
        self.passed: list[str] = []
        self.last_id: str | None = None
        #: Invocations this check started over the ingress.
        self.sent: list[str] = []
        self._labels: dict[str, str] = {}

    # -- keys and wording --------------------------------------------------------------------

    def key(self, name: str) -> str:
        """A Virtual Object key that only this check run uses; messages call it by `name`."""
        key = f"check-{name}-{self.run}"
        self._labels[key] = name
        return key

    def named(self, value: Any) -> str:
        """`value` for a message, with this check's keys written as their short names."""
        if isinstance(value, list | tuple):
            return "[" + ", ".join(self.named(v) for v in value) + "]"
        if isinstance(value, str) and value in self._labels:
            return self._labels[value]
        text = repr(value)
        for key, label in self._labels.items():
            text = text.replace(repr(key), label).replace(key, label)
        return text

    def ok(self, claim: str) -> None:
        self.passed.append(claim)

    @staticmethod
    def fail(problem: str, hint: str | None = None) -> NoReturn:
        raise CheckFailedError(problem, hint=hint)

    # -- setting up state ----------------------------------------------------------------------

    def seed(self, objects: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Give fresh Virtual Object keys their K/V state through Restate's admin API (like `restate kv edit`)."""
        for (service, key), values in objects.items():
            self.lab.set_state(service, key, values)
        polled = poll(
            lambda: self.lab.states(list(objects)),
            lambda seen: all(seen.get(obj, {}) == values for obj, values in objects.items()),
            timeout=5.0,
            interval=0.01,
        )
        if not polled.ok:
            raise LabError("The state the check set up did not show up in Restate within 5 s.")

    # -- invoking ------------------------------------------------------------------------------

    def start(self, service: str, key: str | None, handler: str, arg: Any = NO_ARG) -> str:
        """Send an invocation without waiting for it (the clean-up knows it)."""
        inv_id = self.lab.send(service, key, handler, arg)
        self.sent.append(inv_id)
        self.last_id = inv_id
        return inv_id

    def invoke(self, service: str, key: str | None, handler: str, arg: Any = NO_ARG) -> Any:
        """Run a handler to completion and return its result; a failing handler fails the check at once."""
        target = _target(service, key, handler)
        inv_id = self.start(service, key, handler, arg)
        self.wait_finished(inv_id, target)
        try:
            return self.lab.output(inv_id)
        except InvocationError as failed:
            self.fail(f"{target} ended with an error: {failed}", error_hint(str(failed)))

    def wait_finished(self, inv_id: str, what: str) -> None:
        """Wait until an invocation completed; fail as soon as it, or what it waits for, is stuck."""
        sleeping: list[str] = []

        def asleep(seen: Followed) -> bool:
            # A sleep is no failure, so look for one only when the lab just found nothing failing.
            if seen.diagnosed and seen.stuck is None and seen.status in ("running", "suspended"):
                sleeping.extend(filter(None, [self._sleeping(inv_id)]))
            return bool(sleeping)

        polled = self.lab.follow(inv_id, timeout=self.timeout, until=asleep, interval=0.02)
        seen = polled.value
        if seen.stuck is not None and (seen.blocked or not polled.ok):
            self._fail_stuck(what, seen.stuck)
        if sleeping:
            self.fail(
                f"{what} is sleeping ({sleeping[0]}), so it cannot finish while the check waits; the check stopped it.",
                "A handler that sleeps holds its object's key, so nothing else runs for that key meanwhile: "
                "let a delayed message do the waiting instead.",
            )
        if not polled.ok:
            status = seen.status or "unknown"
            self.fail(
                f"{what} did not finish within {self.timeout:g} s (it was {status!r}); the check stopped it.",
                "Look at lab.logs() and section.invocations(): something waits for a reply that never comes.",
            )

    def follow(
        self, inv_id: str, what: str, until: Callable[[Seen], bool] | None = None, *, timeout: float | None = None
    ) -> Seen:
        """Watch an invocation until `until` holds or it completed (or the time is up).

        Unlike ``wait_finished`` it leaves the verdict on a timeout to the caller; like it, an
        invocation that retries a passing error (a provider that is unreachable for a while: the
        saga's retries) may go on, and one that is stuck fails the check at once, named.
        """

        def reached(followed: Followed) -> bool:
            return until is not None and until(self._seen(inv_id, followed))

        followed = self.lab.follow(inv_id, timeout=timeout or self.timeout, until=reached, interval=0.03).value
        seen = self._seen(inv_id, followed)
        if not seen.done and followed.blocked and followed.stuck is not None and not (until and until(seen)):
            self._fail_stuck(what, followed.stuck)
        return seen

    def _seen(self, inv_id: str, followed: Followed) -> Seen:
        entries = self.lab.journal(inv_id) if followed.invocation is not None else []
        return Seen(followed.invocation, entries)

    def _sleeping(self, inv_id: str) -> str | None:
        for entry in self.lab.journal(inv_id):
            if entry.entry_type == "Command: Sleep" and not entry.completed:
                return f"ctx.sleep until {entry.wake_up_at}" if entry.wake_up_at else "ctx.sleep"
        return None

    def _fail_stuck(self, what: str, stuck: Stuck) -> NoReturn:
        culprit = stuck.culprit
        failure = culprit.failure or "no error text"
        shown = _shown(culprit.target)
        if stuck.relation == "deadlock":
            self.fail(
                f"{what} can never finish: it calls a handler of its own object and waits for it, while it "
                "holds that object's key itself (a deadlock). The check stopped it.",
                "A handler of a Virtual Object must not wait for another exclusive handler of the same key: "
                "send it a message (ctx.object_send) instead.",
            )
        if stuck.relation == "itself":
            problem = f"{what} fails instead of finishing: {failure}."
        elif stuck.relation == "calls":
            problem = f"{what} cannot finish: it waits for {shown}, which keeps failing: {failure}."
        else:
            problem = f"{what} cannot start: {shown} holds its key and keeps failing: {failure}."
        problem += " The check stopped it (details: lab.logs())."
        hint = error_hint(failure)
        if hint is None and stuck.relation != "itself":
            hint = (
                f"The error is in {shown}, not in the handler this exercise is about: fix that handler and check again."
            )
        self.fail(problem, hint)

    def wait_all(self, ids: list[str], what: str) -> None:
        """Wait until invocations this check caused (e.g. messages a handler sent) have completed."""
        if not ids:
            return
        quoted = ", ".join(f"'{i}'" for i in ids)

        def look() -> list[dict[str, Any]]:
            return self.lab.query(f"SELECT id, target, status FROM sys_invocation WHERE id IN ({quoted})")

        def settled(rows: list[dict[str, Any]]) -> bool:
            done = [r for r in rows if r["status"] == "completed"]
            return len(done) == len(ids) or any(r["status"] in _FAILING for r in rows)

        polled = poll(look, settled, timeout=self.timeout, interval=0.02)
        for row in polled.value:
            if row["status"] in _FAILING:
                failing = self.lab.invocation(row["id"])
                failure = failing.failure if failing else "no error text"
                self.fail(
                    f"{what}: {_shown(row['target'])} keeps failing: {failure}. "
                    "The check stopped it (details: lab.logs()).",
                    error_hint(failure)
                    or f"The error is in {_shown(row['target'])}: fix that handler and check again.",
                )
        if not polled.ok:
            self.fail(f"{what}: they did not finish within {self.timeout:g} s; the check stopped them.")

    # -- reading back ----------------------------------------------------------------------------

    def journal(self, inv_id: str | None = None) -> list[JournalEntry]:
        return self.lab.journal(inv_id or self.last_id)

    def state(self, service: str, key: str) -> dict[str, Any]:
        return self.lab.state(service, key)

    def output(self, call: JournalEntry) -> Any:
        """The result of the invocation that a call in a journal started."""
        if call.callee_id is None:
            return None
        what = _shown(call.target or "?/?")
        self.wait_finished(call.callee_id, what)
        try:
            return self.lab.output(call.callee_id)
        except InvocationError as failed:
            self.fail(f"{what} ended with an error: {failed}", error_hint(str(failed)))

    # -- cleaning up -----------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Kill what this check started and left unfinished (its keys and calls are its own)."""
        sent = ", ".join(f"'{i}'" for i in self.sent) or "''"
        with contextlib.suppress(LabError):
            rows = self.lab.query(
                "SELECT id FROM sys_invocation WHERE status != 'completed' AND "
                f"(target LIKE '%-{self.run}/%' OR id IN ({sent}) OR invoked_by_id IN ({sent}))"
            )
            for row in rows:
                with contextlib.suppress(LabError):
                    self.lab.kill(row["id"])


def _split(target: str) -> tuple[str, str | None, str]:
    parts = target.split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else (parts[0], None, parts[-1])


def _shown(target: str) -> str:
    """A target for a message: ``TicketObject/<key>/markAsSold`` (the check's keys mean nothing to the learner)."""
    return _target(*_split(target))


def messages(entries: list[JournalEntry], service: str, handler: str) -> list[JournalEntry]:
    """The calls and one-way messages in a journal that go to `handler` of `service`."""
    return [
        e
        for e in entries
        if e.entry_type in _CALLS and e.target and _split(e.target)[0] == service and _split(e.target)[2] == handler
    ]


def mails_to(user: str) -> list[str]:
    """The subjects of the e-mails the tour's outbox holds for `user`."""
    return [subject for who, subject in list(email_client.outbox) if who == user]


def counted(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


#: A seat's "status" when it is free.
AVAILABLE = (None, "AVAILABLE")


def seat_status(p: Probe, seat: str) -> Any:
    return p.state("TicketObject", seat).get("status")


def unavailable(p: Probe, seats: list[str]) -> list[str]:
    """The seats among `seats` that are not available."""
    return [s for s in seats if seat_status(p, s) not in AVAILABLE]


def outcome_of(p: Probe, inv_id: str) -> tuple[Any, InvocationError | None]:
    """The result of a completed invocation, or the error it ended with."""
    try:
        return p.lab.output(inv_id), None
    except InvocationError as failed:
        return None, failed


def released_seats(entries: list[JournalEntry]) -> list[str]:
    """The seats a journal sent TicketObject/unreserve to, in journal order."""
    return [key_of(m.target) for m in messages(entries, "TicketObject", "unreserve")]


def await_messages(p: Probe, entries: list[JournalEntry], handler: str, what: str) -> None:
    """Wait until the TicketObject calls and messages of a journal to `handler` have completed."""
    p.wait_all([m.callee_id for m in messages(entries, "TicketObject", handler) if m.callee_id], what)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set variables the tour app reads at call time (its timers) while a check runs, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
