"""Chapter 09, sagas: a booking that undoes what it did when a step fails for good."""

from __future__ import annotations

from typing import Any

from tour.auxiliary import email_client, payment_client
from tourlab import InvocationError, JournalEntry
from tourlab.course.exercises.hints import error_hint
from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import (
    Probe,
    await_messages,
    messages,
    outcome_of,
    released_seats,
    seat_status,
    unavailable,
)

_BOOK = "BookingService/book"


def _book(p: Probe, order: dict[str, Any]) -> tuple[str, Any, InvocationError | None]:
    """Run a booking to its end; returns its id and its result or error."""
    inv_id = p.start("BookingService", None, "book", order)
    seen = p.follow(inv_id, _BOOK, timeout=15.0)
    if not seen.done:
        p.fail(f"{_BOOK} did not finish within 15 s (it was {seen.status!r}); the check stopped it.")
    result, failed = outcome_of(p, inv_id)
    return inv_id, result, failed


def _must_fail(p: Probe, when: str, result: Any, failed: InvocationError | None) -> InvocationError:
    if failed is None:
        p.fail(
            f"{when}, book returned {result!r} instead of failing: the caller (and Restate) must see the booking fail.",
            "Undoing does not turn the booking into a success: the caller (and Restate) must still see it "
            "fail, with the original error.",
        )
    return failed


def _undone_in_reverse(p: Probe, entries: list[JournalEntry], seats: list[str], when: str) -> None:
    """The journal released exactly `seats`, once each, newest first, and they are available again."""
    released = released_seats(entries)
    if not released:
        p.fail(
            f"{when}, book released none of the seats it had reserved: they stay RESERVED for nobody.",
            BOOKING_COMPENSATIONS.hints[0],
        )
    missing = [s for s in seats if s not in released]
    if missing:
        p.fail(f"{when}, book released {p.named(released)} but not {p.named(missing)}.")
    if len(released) != len(set(released)):
        p.fail(f"{when}, book released a seat more than once: {p.named(released)}.")
    newest_first = list(reversed(seats))
    if released[: len(seats)] != newest_first:
        p.fail(
            f"{when}, book released the seats in the order {p.named(released)}; undo newest first: "
            f"{p.named(newest_first)}.",
            "Undo newest first: the last thing done is the first thing undone.",
        )
    await_messages(p, entries, "unreserve", f"{when}, book sent unreserve")
    if unavailable(p, seats):
        p.fail(f"{when}, book sent unreserve, but {p.named(unavailable(p, seats))} are not available again.")


def _charged(user: str) -> list[payment_client.Charge]:
    return [c for c in payment_client.charges() if c.user_id == user and c.succeeded]


def _booking(p: Probe, user: str, *seats: str) -> tuple[str, list[str], dict[str, Any]]:
    """A customer, their seats and the order for them (keys nobody else uses)."""
    user_key, seat_keys = p.key(user), [p.key(seat) for seat in seats]
    return user_key, seat_keys, {"user_id": user_key, "tickets": seat_keys}


def _booking_succeeds(p: Probe) -> None:
    user, seats, order = _booking(p, "ann", "seat-a", "seat-b")
    inv_id, result, failed = _book(p, order)
    if failed is not None or result is not True:
        p.fail(
            f"A booking of two free seats with a good card ended with {failed or result!r}; expected True.",
            error_hint(str(failed)) if failed else None,
        )
    entries = p.journal(inv_id)
    if released_seats(entries):
        p.fail("A booking where every step worked released its seats: undo only when a step fails for good.")
    charges = _charged(user)
    refunded = {r.idempotency_key for r in payment_client.refunds()}
    if [c.amount for c in charges] != [80] or any(c.idempotency_key in refunded for c in charges):
        p.fail(
            f"A booking of two seats that worked charged {[c.amount for c in charges]} and refunded "
            f"{sum(c.idempotency_key in refunded for c in charges)}; expected one charge of 80 and no refund."
        )
    await_messages(p, entries, "markAsSold", "book sent markAsSold")
    if any(seat_status(p, s) != "SOLD" for s in seats):
        p.fail("A booking that worked left its seats unsold: keep the markAsSold messages at the end.")
    p.ok("a booking where every step works: True, one charge of 80, nothing undone, the seats SOLD")


def _booking_declined(p: Probe) -> None:
    user, seats, order = _booking(p, "bob", "seat-c", "seat-d")
    payment_client.decline(user)
    inv_id, result, failed = _book(p, order)
    failure = _must_fail(p, "When the card was declined", result, failed)
    _undone_in_reverse(p, p.journal(inv_id), seats, "When the card was declined")
    p.ok(f"a declined card: book fails ({failure.status_code}) and releases both seats, newest first")


def _booking_seat_taken(p: Probe) -> None:
    free, taken = p.key("seat-e"), p.key("seat-taken")
    p.seed({("TicketObject", taken): {"status": "RESERVED"}})
    user = p.key("cid")
    order = {"user_id": user, "tickets": [free, taken]}
    inv_id, result, failed = _book(p, order)
    _must_fail(p, "When a seat was taken", result, failed)
    entries = p.journal(inv_id)
    if taken in released_seats(entries):
        p.fail(
            "When a seat was taken, book released it too: that seat belongs to someone else's reservation.",
            "A seat this booking did not get belongs to someone else: only a reservation that succeeded is "
            "this booking's to undo.",
        )
    _undone_in_reverse(p, entries, [free], "When a seat was taken")
    if seat_status(p, taken) != "RESERVED" or _charged(user):
        p.fail("When a seat was taken, book charged the card or changed the other reservation.")
    p.ok("a taken seat: book fails and releases only the seat it had reserved")


def _refund_checks(p: Probe, entries: list[JournalEntry], user: str) -> None:
    charges = _charged(user)
    if not charges:
        p.fail("The check needs a booking that gets as far as the charge, but this one charged nothing.")
    keys = {c.idempotency_key for c in charges}
    if not any(r.idempotency_key in keys for r in payment_client.refunds()):
        p.fail(
            "The tickets could not be sent after the card was charged, and the charge was not refunded.",
            "The provider finds a charge by the key it was made with: refund with that same key, whenever the "
            "charge may have gone through.",
        )
    undo_steps = [e for e in entries if e.entry_type == "Command: Run" and e.name not in ("charge", "send tickets")]
    if not undo_steps:
        p.fail(
            "The refund happened outside the journal: on a retry it would run again, and the journal does not show it.",
            "A refund talks to the outside world: make it a journaled step, so that a retry does not repeat it "
            "and the journal shows it.",
        )
    releases = [m.index for m in messages(entries, "TicketObject", "unreserve")]
    if releases and undo_steps[-1].index > min(releases):
        p.fail(
            "book released the seats before it refunded the charge; undo newest first: the charge came last, "
            "so the refund goes first.",
            "Undo newest first: the last thing done is the first thing undone.",
        )


def _booking_fails_after_charge(p: Probe) -> None:
    user, seats, order = _booking(p, "dan", "seat-f", "seat-g")
    email_client.fail_next(100)
    try:
        inv_id, result, failed = _book(p, order)
    finally:
        email_client.fail_next(0)
    when = "When the tickets could not be sent after the charge"
    _must_fail(p, when, result, failed)
    entries = p.journal(inv_id)
    _refund_checks(p, entries, user)
    _undone_in_reverse(p, entries, seats, when)
    p.ok("tickets that cannot be sent after the charge: book refunds (a journaled step), then releases the seats")


def _booking_cancelled(p: Probe) -> None:
    _user, seats, order = _booking(p, "eve", "seat-h", "seat-i")
    payment_client.fail_next_charges(100)
    try:
        inv_id = p.start("BookingService", None, "book", order)
        retrying = p.follow(inv_id, _BOOK, lambda seen: seen.status == "backing-off")
        if retrying.done:
            p.fail("With the provider unreachable, book finished before the check could cancel it.")
        p.lab.cancel(inv_id)
        p.lab.resume(inv_id)  # a backing-off invocation sees the cancel at its next attempt: now
        seen = p.follow(inv_id, _BOOK, timeout=10.0)
    finally:
        payment_client.fail_next_charges(0)
    if not seen.done:
        p.fail(f"After the cancel, {_BOOK} did not finish within 10 s (it was {seen.status!r}).")
    when = "When the booking was cancelled"
    failure = _must_fail(p, when, *outcome_of(p, inv_id))
    _undone_in_reverse(p, p.journal(inv_id), seats, when)
    if failure.status_code != 409:
        p.fail(f"{when}, book ended with {failure} instead of the cancel (409): raise the error it caught.")
    p.ok("a cancelled booking (while the charge is retried): the same compensations run, it ends cancelled (409)")


def check_booking_compensations(p: Probe) -> None:
    """BookingService/book as a saga (section 09).

    Checked: a booking where every step works returns True, charges 80 once, undoes nothing and
    sells the seats. When the card is declined (TerminalError 402) book fails and releases both
    seats, newest first. When the second seat is taken it fails and releases only the first one
    (never the other customer's seat). When the tickets cannot be sent after the charge
    (max_attempts exhausted) it refunds the charge in a journaled step with the charge's key, then
    releases the seats, newest first. Cancelled while the charge is being retried, it runs the
    same compensations and ends cancelled (409).
    """
    _booking_succeeds(p)
    _booking_declined(p)
    _booking_seat_taken(p)
    _booking_fails_after_charge(p)
    _booking_cancelled(p)


BOOKING_COMPENSATIONS = Exercise(
    id="booking_compensations",
    section="09",
    title="BookingService/book undoes what it did when a step fails for good",
    file="booking_service.py",
    functions=("book",),
    # The reference checkpoint, so the rest of the app works (a candidate replaces one handler).
    start_from="tour/part6",
    solution_from="tour/part6",
    skeleton="""\
from tour.auxiliary import email_client, payment_client

from .ticket_object import mark_as_sold, reserve, unreserve


@booking_service.handler()
async def book(ctx: Context, order: Order) -> bool:
    # TODO: make this booking leave nothing behind when a step fails for good (a TerminalError;
    #   a cancel arrives as one too): every seat it reserved is free again, and a charge that may
    #   have gone through (even if its step failed) is refunded, as a journaled step, with the
    #   key it was charged with (payment_client.refund). Undo newest first, never release a
    #   seat this booking did not reserve, and let the booking still fail with the original error.
    for seat in order["tickets"]:
        if not await ctx.object_call(reserve, key=seat, arg=None):
            raise TerminalError(f"seat {seat} is taken", status_code=409)

    payment_key = str(ctx.uuid())
    amount = len(order["tickets"]) * TICKET_PRICE
    charge_options = RunOptions(type_hint=bool, max_attempts=3, initial_retry_interval=timedelta(seconds=1))
    await ctx.run_typed("charge", charge_card, charge_options, payment_key, order["user_id"], amount)

    send_options = RunOptions(type_hint=bool, max_attempts=3)
    await ctx.run_typed("send tickets", email_client.send_tickets, send_options, order["user_id"], order["tickets"])

    for seat in order["tickets"]:
        ctx.object_send(mark_as_sold, key=seat, arg=None)
    return True
""",
    hints=(
        (
            "As the booking goes, remember how to undo each thing it did, once it did it (a charge may go "
            "through even if its step fails, so count it as done before it starts). When a step fails for "
            "good, undo what you remembered, newest first, then fail as before."
        ),
        (
            "A failing step and a cancel both raise TerminalError: catch it around the steps. An undo can be a "
            "function that starts the step when called: lambda seat=seat: ctx.object_call(unreserve, key=seat, "
            'arg=None), or lambda: ctx.run_typed("refund", payment_client.refund, RunOptions(type_hint=bool), '
            "payment_key). A bare raise passes the error on."
        ),
        (
            "except TerminalError: for undo in reversed(compensations): await undo()  - then a bare raise, "
            "so the caller (and Restate) see the booking fail."
        ),
    ),
    check=check_booking_compensations,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (BOOKING_COMPENSATIONS,)
