"""Behaviour checks for the exercises, run through the real Restate against the learner's code.

Each check drives handlers over Restate's ingress with keys nobody else uses, then looks at
results, journals and K/V state. The first behaviour that is off ends the check with a
message that says what was expected and what happened instead.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from tour.auxiliary import email_client, payment_client
from tourlab import NO_ARG, InvocationError, JournalEntry, Lab, LabError, poll
from tourlab.course.exercises import Exercise, find_exercise


class CheckFailedError(LabError):
    """A behaviour of the learner's code is not what the exercise asks for."""


@dataclass
class CheckResult:
    """The outcome of one check: what passed, and the first thing that did not."""

    exercise: Exercise
    passed: list[str] = field(default_factory=list)
    problem: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def _lines(self) -> list[str]:
        title = self.exercise.title
        head = f"PASSED  {title}" if self.ok else f"NOT YET  {title}"
        lines = [head, *(f"  [ok]   {claim}" for claim in self.passed)]
        if self.problem is not None:
            lines.append(f"  [fail] {self.problem}")
            lines.append(f"Hint 1/{len(self.exercise.hints)}: {self.hint}")
            lines.append(
                f'More help: section.hint("{self.exercise.id}")   The answer: section.solution("{self.exercise.id}")'
            )
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_markdown_(self) -> str:
        title = self.exercise.title
        mark = "✅ **Passed**" if self.ok else "❌ **Not yet**"
        lines = [f"{mark}: {title}", ""]
        lines += [f"- ✔ {claim}" for claim in self.passed]
        if self.problem is not None:
            lines.append(f"- ✘ {self.problem}")
            lines += [
                "",
                f"**Hint 1/{len(self.exercise.hints)}:** {self.hint}",
                "",
                (
                    f'More help: `section.hint("{self.exercise.id}")` · '
                    f'the answer: `section.solution("{self.exercise.id}")`'
                ),
            ]
        return "\n".join(lines)


@contextlib.contextmanager
def long_reservations() -> Iterator[None]:
    """Keep reservations from expiring while a check runs (notebooks may shorten them)."""
    previous = os.environ.get("TOUR_RESERVATION_SECONDS")
    os.environ["TOUR_RESERVATION_SECONDS"] = "900"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TOUR_RESERVATION_SECONDS", None)
        else:
            os.environ["TOUR_RESERVATION_SECONDS"] = previous


@contextlib.contextmanager
def declining_payments() -> Iterator[None]:
    """Make ``payment_client.call`` decline every payment while a check runs."""
    original = payment_client.call

    async def decline(idempotency_key: str, amount: int) -> bool:
        return False

    payment_client.call = decline
    try:
        yield
    finally:
        payment_client.call = original


class Probe:
    """Drives the learner's handlers through Restate and reads back what happened."""

    def __init__(self, lab: Lab, *, timeout: float = 8.0) -> None:
        self.lab = lab
        self.timeout = timeout
        self.run = uuid.uuid4().hex[:8]
        self.passed: list[str] = []
        self.last_id: str | None = None

    def key(self, name: str) -> str:
        """A Virtual Object key that only this check run uses."""
        return f"check-{name}-{self.run}"

    def ok(self, claim: str) -> None:
        self.passed.append(claim)

    @staticmethod
    def fail(problem: str) -> NoReturn:
        raise CheckFailedError(problem)

    def invoke(self, service: str, key: str | None, handler: str, arg: Any = NO_ARG) -> Any:
        """Run a handler to completion and return its result; a failing handler fails the check."""
        target = f"{service}/{handler}" if key is None else f"{service}/<key>/{handler}"
        inv_id = self.lab.send(service, key, handler, arg)
        self.last_id = inv_id
        polled = poll(
            lambda: self.lab.invocation(inv_id),
            lambda seen: seen is not None and seen.status in ("completed", "backing-off", "paused"),
            timeout=self.timeout,
            interval=0.02,
        )
        seen = polled.value
        if seen is not None and seen.status == "completed":
            try:
                return self.lab.output(inv_id)
            except InvocationError as failed:
                self.fail(f"{target} ended with an error: {failed}")
        with contextlib.suppress(LabError):
            self.lab.kill(inv_id)
        if seen is not None and seen.status in ("backing-off", "paused"):
            failure = (seen.last_failure or "it raised an error").splitlines()[0]
            self.fail(f"{target} fails instead of finishing: {failure} (details: lab.logs())")
        status = seen.status if seen else "unknown"
        raise CheckFailedError(f"{target} did not finish within {self.timeout:g} s (it was {status!r}).")

    def journal(self, inv_id: str | None = None) -> list[JournalEntry]:
        return self.lab.journal(inv_id or self.last_id)

    def commands_to(self, target: str, inv_id: str | None = None) -> list[str]:
        """Entry types of the journal commands that call or message `target`."""
        return [e.entry_type for e in self.journal(inv_id) if e.target == target]

    def state(self, service: str, key: str) -> dict[str, Any]:
        return self.lab.state(service, key)

    def wait_completed(self, target: str, timeout: float = 5.0) -> bool:
        """Wait until an invocation of `target` (``Svc/key/handler``) has completed."""
        return poll(
            lambda: [i for i in self.lab.invocations(target=target, limit=10) if i.target == target],
            lambda found: any(i.status == "completed" for i in found),
            timeout=timeout,
        ).ok


# -- the checks ---------------------------------------------------------------------------------


def check_checkout_calls_handle(p: Probe) -> None:
    cart = p.key("cart")
    result = p.invoke("CartObject", cart, "checkout")
    commands = p.commands_to("CheckoutService/handle")
    if "Command: Call" not in commands:
        if "Command: OneWayCall" in commands:
            p.fail(
                "checkout sends CheckoutService/handle a one-way message, so it never learns whether "
                "the payment worked. Make it a request-response call and return the answer."
            )
        p.fail("CartObject/checkout does not call CheckoutService/handle: its journal has no call entry.")
    p.ok("checkout calls CheckoutService/handle (its journal has a 'Command: Call' entry)")
    if result is not True:
        p.fail(f"checkout returned {result!r}; it should return the answer of handle (True).")
    p.ok("checkout returns what handle answered")


def _add_ticket(p: Probe, cart: str, seat: str) -> None:
    added = p.invoke("CartObject", cart, "addTicket", seat)
    tickets = p.state("CartObject", cart).get("tickets") or []
    if added is not True or seat not in tickets:
        p.fail(
            f"Before this check can start, addTicket must reserve the seat and store it in the cart's "
            f"'tickets' state; it returned {added!r} and the cart holds {len(tickets)} ticket(s). "
            "Run the addTicket cell of this section first."
        )


def check_expire_ticket(p: Probe) -> None:
    cart, seat, other = p.key("cart"), p.key("seat"), p.key("other-seat")
    with long_reservations():
        _add_ticket(p, cart, seat)
        p.invoke("CartObject", cart, "expireTicket", seat)
    left = p.state("CartObject", cart).get("tickets") or []
    if seat in left:
        p.fail(
            "After expireTicket the ticket is still in the cart: take it out of the list and store "
            "the list again with ctx.set."
        )
    p.ok("expireTicket takes the ticket out of the cart")
    if f"TicketObject/{seat}/unreserve" not in {e.target for e in p.journal()}:
        p.fail("expireTicket took the ticket out of the cart but never sent TicketObject/unreserve for it.")
    p.ok("expireTicket sends TicketObject/unreserve for that seat")
    p.invoke("CartObject", cart, "expireTicket", other)
    if f"TicketObject/{other}/unreserve" in {e.target for e in p.journal()}:
        p.fail(
            "expireTicket released a seat that was not in the cart (someone else may hold it now): "
            "only send unreserve when the ticket is in 'tickets'."
        )
    p.ok("expireTicket leaves seats alone that are not in the cart")


def _status(p: Probe, seat: str) -> str | None:
    return p.state("TicketObject", seat).get("status")


def _reserved_seat(p: Probe, name: str) -> str:
    seat = p.key(name)
    if p.invoke("TicketObject", seat, "reserve") is not True or _status(p, seat) != "RESERVED":
        p.fail(
            "reserve does not work yet (a fresh seat should give True and the status 'RESERVED'): "
            'finish section.check("reserve") first.'
        )
    return seat


def check_reserve(p: Probe) -> None:
    seat = p.key("seat")
    first = p.invoke("TicketObject", seat, "reserve")
    if first is not True:
        p.fail(f"reserve on a seat nobody touched returned {first!r}; such a seat is AVAILABLE, so: True.")
    status = _status(p, seat)
    if status != "RESERVED":
        p.fail(
            f"reserve returned True but left the 'status' state at {status!r}; store 'RESERVED' "
            "so the next reservation of this seat can see it is taken."
        )
    p.ok("reserve on an available seat returns True and stores 'RESERVED'")
    second = p.invoke("TicketObject", seat, "reserve")
    if second is not False:
        p.fail(f"Reserving the same seat again returned {second!r}; a seat that is taken gives False.")
    p.ok("reserve on a reserved seat returns False")


def check_unreserve(p: Probe) -> None:
    seat = _reserved_seat(p, "seat")
    p.invoke("TicketObject", seat, "unreserve")
    status = _status(p, seat)
    if status not in (None, "AVAILABLE"):
        p.fail(f"After unreserve the status is still {status!r}; clear it so the seat is available again.")
    p.ok("unreserve makes a reserved seat available")
    if p.invoke("TicketObject", seat, "reserve") is not True:
        p.fail("After unreserve the seat cannot be reserved again.")
    p.ok("an unreserved seat can be reserved again")


def check_mark_as_sold(p: Probe) -> None:
    seat = _reserved_seat(p, "seat")
    p.invoke("TicketObject", seat, "markAsSold")
    status = _status(p, seat)
    if status != "SOLD":
        p.fail(f"markAsSold on a reserved seat left the status at {status!r}; it should be 'SOLD'.")
    p.ok("markAsSold turns RESERVED into SOLD")
    p.invoke("TicketObject", seat, "unreserve")
    status = _status(p, seat)
    if status != "SOLD":
        p.fail(
            f"unreserve turned a SOLD ticket into {status!r}: an expiring reservation must never "
            "undo a sale. Leave SOLD tickets alone in unreserve."
        )
    p.ok("unreserve leaves a SOLD ticket sold")
    if p.invoke("TicketObject", seat, "reserve") is not False:
        p.fail("A SOLD seat could be reserved again; reserve must give False for it.")
    p.ok("a SOLD seat cannot be reserved")
    free = p.key("free-seat")
    p.invoke("TicketObject", free, "markAsSold")
    if _status(p, free) == "SOLD":
        p.fail("markAsSold sold a seat that was never reserved; only RESERVED seats can be sold.")
    p.ok("markAsSold ignores seats that are not reserved")


def _mails(user: str) -> list[str]:
    return [subject for who, subject in list(email_client.outbox) if who == user]


def check_email_notifications(p: Probe) -> None:
    user = p.key("user")
    paid = p.invoke("CheckoutService", None, "handle", {"user_id": user, "tickets": ["seat1A"]})
    mails = _mails(user)
    if paid is not True:
        p.fail(f"handle returned {paid!r} for a payment that went through; return the payment result.")
    if mails != ["payment succeeded"]:
        p.fail(
            f"After a successful payment the user received {mails or 'no e-mail'}; expected one "
            "'payment succeeded' e-mail (email_client.notify_user_of_payment_success)."
        )
    p.ok("a successful payment sends one 'payment succeeded' e-mail")
    runs = [e for e in p.journal() if e.entry_type == "Command: Run"]
    if len(runs) < 2:
        p.fail(
            "The e-mail went out, but not as a journaled step (the journal of handle has only "
            f"{len(runs)} run step): a retry would send it again. Wrap it in ctx.run_typed."
        )
    p.ok("the e-mail is a journaled ctx.run step")
    declined = p.key("declined-user")
    with declining_payments():
        result = p.invoke("CheckoutService", None, "handle", {"user_id": declined, "tickets": ["seat1B"]})
    mails = _mails(declined)
    if result is not False or mails != ["payment failed"]:
        p.fail(
            f"When the payment provider declines (payment_client.call returns False), handle returned "
            f"{result!r} and the user received {mails or 'no e-mail'}; expected False and one "
            "'payment failed' e-mail."
        )
    p.ok("a declined payment sends one 'payment failed' e-mail")


def check_checkout_marks_sold(p: Probe) -> None:
    cart, seat = p.key("cart"), p.key("seat")
    with long_reservations():
        _add_ticket(p, cart, seat)
        paid = p.invoke("CartObject", cart, "checkout")
    if paid is not True:
        p.fail(f"checkout of a cart with one ticket returned {paid!r}; the payment succeeds, so: True.")
    p.ok("checkout of a full cart returns True")
    if f"TicketObject/{seat}/markAsSold" not in {e.target for e in p.journal()}:
        p.fail("checkout was paid but never told the ticket's TicketObject (markAsSold) that it is sold.")
    p.ok("checkout sends TicketObject/markAsSold for each ticket")
    if not p.wait_completed(f"TicketObject/{seat}/markAsSold") or _status(p, seat) != "SOLD":
        p.fail(f"markAsSold ran, but the ticket's status is {_status(p, seat)!r} instead of 'SOLD'.")
    p.ok("the ticket ends up SOLD")
    if p.state("CartObject", cart).get("tickets"):
        p.fail("After a paid checkout the cart still holds its tickets; clear 'tickets'.")
    p.ok("the cart is empty after checkout")


CHECKS: dict[str, Callable[[Probe], None]] = {
    "checkout_calls_handle": check_checkout_calls_handle,
    "expire_ticket": check_expire_ticket,
    "reserve": check_reserve,
    "unreserve": check_unreserve,
    "mark_as_sold": check_mark_as_sold,
    "email_notifications": check_email_notifications,
    "checkout_marks_sold": check_checkout_marks_sold,
}


def run_check(exercise_id: str, lab: Lab) -> CheckResult:
    """Run one exercise's behaviour check against whatever code the lab serves right now."""
    exercise = find_exercise(exercise_id)
    probe = Probe(lab)
    result = CheckResult(exercise)
    try:
        CHECKS[exercise_id](probe)
    except CheckFailedError as failed:
        result.problem = str(failed)
        result.hint = exercise.hints[0]
    result.passed = probe.passed
    return result
