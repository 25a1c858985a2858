"""Chapter 05, journaling actions: e-mails as journaled steps, and a paid checkout sells its tickets."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from tour.auxiliary import email_client, payment_client
from tourlab import JournalEntry
from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import (
    Probe,
    counted,
    key_of,
    mails_to,
    messages,
    seat_status,
)


def _run_steps(entries: list[JournalEntry]) -> list[JournalEntry]:
    return [e for e in entries if e.entry_type == "Command: Run"]


@contextlib.contextmanager
def declined_payments() -> Iterator[None]:
    """Make the tour's payment provider decline every payment while a check runs."""
    payment_client.decline_payments(True)
    try:
        yield
    finally:
        payment_client.decline_payments(False)


def check_email_notifications(p: Probe) -> None:
    """CheckoutService/handle e-mails the outcome of the payment (section 05).

    Checked, for an order of two tickets: when the payment goes through, handle returns True,
    charges once (2 x 40) and sends order["user_id"] exactly one "payment succeeded" e-mail;
    when the provider declines (payment_client.call returns False), handle returns False and
    sends exactly one "payment failed" e-mail. In both cases the e-mail is a journaled ctx.run
    step of its own, after the payment step, so a retry never sends it again.
    """
    for declined in (False, True):
        user = p.key("declined-user" if declined else "user")
        order = {"user_id": user, "tickets": [p.key("seat-a"), p.key("seat-b")]}
        charges_before, outbox_before = len(payment_client.charges()), len(email_client.outbox)
        with declined_payments() if declined else contextlib.nullcontext():
            result = p.invoke("CheckoutService", None, "handle", order)
        _check_mails(p, user, declined, email_client.outbox[outbox_before:])
        outcome = "a declined payment" if declined else "a successful payment"
        subject = "payment failed" if declined else "payment succeeded"
        p.ok(f"{outcome}: one '{subject}' e-mail to order['user_id']")
        paid = not declined
        if result is not paid:
            p.fail(
                f"After {outcome} handle returned {result!r}; it should return the payment's result ({paid}).",
                "handle still answers with the payment's outcome: the e-mail reports it, it does not change it.",
            )
        charges = payment_client.charges()[charges_before:]
        if [c.amount for c in charges] != [80]:
            p.fail(
                f"For an order of 2 tickets handle charged {[c.amount for c in charges]}; expected one charge "
                "of 80 (2 x 40).",
                "The payment step of the starting code stays as it was: one charge per order.",
            )
        p.ok(f"{outcome}: handle charges once (2 x 40) and returns {paid}")
        runs = _run_steps(p.journal())
        if len(runs) < 2:
            p.fail(
                f"The e-mail went out, but not as a journaled step: the journal of handle has "
                f"{counted(len(runs), 'run step')}, the payment's only. A retry would send the e-mail again.",
                "An e-mail talks to the outside world: like the payment, it must be a journaled step of its own, "
                "so that a retry finds its result in the journal instead of sending it again.",
            )
        p.ok(f"{outcome}: the e-mail is a journaled ctx.run step of its own")


def _check_mails(p: Probe, user: str, declined: bool, new_mails: list[tuple[str, str]]) -> None:
    mails = mails_to(user)
    expected = "payment failed" if declined else "payment succeeded"
    function = "notify_user_of_payment_failure" if declined else "notify_user_of_payment_success"
    outcome = (
        "When the payment provider declines (payment_client.call returns False)"
        if declined
        else ("After a successful payment")
    )
    if mails == [expected]:
        return
    elsewhere = [who for who, _subject in new_mails if who != user]
    if not mails and elsewhere:
        p.fail(
            f"{outcome} the e-mail went to {elsewhere[0]!r} instead of order['user_id'] ({user!r}).",
            "The e-mail goes to the user who placed the order: the order says who that is.",
        )
    if not mails:
        p.fail(
            f"{outcome} the user received no e-mail; expected one {expected!r} e-mail (email_client.{function}).",
        )
    if expected not in mails:
        p.fail(
            f"{outcome} the user received {mails}; expected one {expected!r} e-mail (email_client.{function}).",
            "Which e-mail goes out depends on the payment's outcome: success only when it was paid.",
        )
    p.fail(
        f"{outcome} the user received {counted(len(mails), 'e-mail')}: {mails}; expected exactly one {expected!r}.",
        "One payment, one outcome, so exactly one e-mail per payment: the one that fits the outcome.",
    )


def _cart_with_reserved_seats(p: Probe, cart_name: str, seat_names: list[str]) -> tuple[str, list[str]]:
    cart = p.key(cart_name)
    seats = [p.key(n) for n in seat_names]
    objects: dict[tuple[str, str], dict[str, Any]] = {("CartObject", cart): {"tickets": seats}}
    objects.update({("TicketObject", s): {"status": "RESERVED"} for s in seats})
    p.seed(objects)
    return cart, seats


def _handle_call(p: Probe, cart: str, seats: list[str]) -> tuple[JournalEntry, list[JournalEntry]]:
    """checkout's one call to CheckoutService/handle (checked to carry this cart's order) and its journal."""
    entries = p.journal()
    calls = [c for c in messages(entries, "CheckoutService", "handle") if c.entry_type == "Command: Call"]
    if len(calls) != 1:
        p.fail(
            f"CartObject/checkout should call CheckoutService/handle once and wait for the answer; its journal "
            f"has {counted(len(calls), 'such call')}.",
            "The payment happens in handle: checkout asks it once and needs its answer before it can go on.",
        )
    order = calls[0].value
    if (
        not isinstance(order, dict)
        or order.get("user_id") != cart
        or sorted(order.get("tickets") or []) != sorted(seats)
    ):
        p.fail(
            f"checkout of a cart holding {p.named(seats)} sent handle the order {p.named(order)}; expected "
            f"user_id = the cart's key and tickets = {p.named(seats)}.",
            "The order is for the cart's own user and holds exactly the tickets the cart holds.",
        )
    return calls[0], entries


def check_checkout_marks_sold(p: Probe) -> None:
    """CartObject/checkout marks every paid ticket as sold (section 05).

    Checked, on a cart holding three RESERVED seats: checkout sends handle the order (user_id =
    the cart's key, tickets = the cart's tickets) and, when handle answers True, returns True,
    sends TicketObject/markAsSold exactly once to every ticket and only after the payment's
    answer, every ticket ends "SOLD" and the cart is emptied. When the payment is declined,
    checkout returns False, sends no markAsSold, the seats stay RESERVED and the cart keeps them.
    """
    _paid_checkout(p)
    _declined_checkout(p)


def _paid_checkout(p: Probe) -> None:
    cart, seats = _cart_with_reserved_seats(p, "cart", ["seat-a", "seat-b", "seat-c"])
    paid = p.invoke("CartObject", cart, "checkout")
    call, entries = _handle_call(p, cart, seats)
    answer = p.output(call)
    if answer is not True:
        p.fail(
            f"CheckoutService/handle answered {answer!r} for a payment that goes through, so the check cannot "
            "see what checkout does after a payment.",
            'Finish section.check("email_notifications") first: handle returns the payment result.',
        )
    if paid is not True:
        p.fail(f"checkout of a cart with 3 tickets returned {paid!r}, but handle answered True; return that.")
    p.ok("checkout sends handle the cart's order and returns True when it is paid")
    sold = messages(entries, "TicketObject", "markAsSold")
    if not sold:
        p.fail("checkout was paid but never told the ticket's TicketObject (markAsSold) that it is sold.")
    early = [m for m in sold if m.index < call.index]
    if early:
        p.fail(
            "checkout sends TicketObject/markAsSold before CheckoutService/handle has answered, so tickets "
            "get sold whether or not the payment goes through.",
            "A ticket is sold only once its payment went through: the messages come after handle's answer, "
            "and only when it says paid.",
        )
    counts = Counter(key_of(m.target) for m in sold)
    missing = [s for s in seats if counts[s] == 0]
    if missing:
        p.fail(
            f"checkout of a cart holding {p.named(seats)} sent markAsSold only to "
            f"{p.named(sorted(counts))}; {p.named(missing)} were paid for but not marked as sold.",
            "Every ticket of the cart was paid for, and each is an object of its own: one message per ticket.",
        )
    strangers = sorted(k for k in counts if k not in seats)
    if strangers:
        p.fail(f"checkout sent markAsSold to {p.named(strangers)}, which are not in the cart.")
    twice = sorted(k for k, n in counts.items() if n > 1)
    if twice:
        p.fail(
            f"checkout sent markAsSold more than once to {p.named(twice)}.",
            "Each paid ticket is told once that it is sold.",
        )
    p.ok("after the payment checkout sends TicketObject/markAsSold once to every ticket")
    p.wait_all([m.callee_id for m in sold if m.callee_id], "checkout sent markAsSold")
    statuses = {s: seat_status(p, s) for s in seats}
    unsold = [s for s, status in statuses.items() if status != "SOLD"]
    if unsold:
        p.fail(
            f"markAsSold ran, but the status of {p.named(unsold)} is {statuses[unsold[0]]!r} instead of 'SOLD'.",
            "markAsSold is the TicketObject's handler (section 04): a RESERVED seat becomes SOLD.",
        )
    p.ok("every ticket ends up SOLD")
    if p.state("CartObject", cart).get("tickets"):
        p.fail(
            "After a paid checkout the cart still holds its tickets; clear 'tickets'.",
            "Once the tickets are paid for, the cart is done with them: keep emptying it after a payment.",
        )
    p.ok("the cart is empty after a paid checkout")


def _declined_checkout(p: Probe) -> None:
    cart, seats = _cart_with_reserved_seats(p, "declined-cart", ["seat-d", "seat-e"])
    with declined_payments():
        paid = p.invoke("CartObject", cart, "checkout")
    call, entries = _handle_call(p, cart, seats)
    answer = p.output(call)
    if answer is not False:
        p.fail(
            "To try a declined payment the check made payment_client.call decline, but CheckoutService/handle "
            f"still answered {answer!r}.",
            'handle must return the payment result: finish section.check("email_notifications") first.',
        )
    if paid is not False:
        p.fail(f"checkout returned {paid!r} although the payment was declined (handle answered False).")
    if messages(entries, "TicketObject", "markAsSold"):
        p.fail(
            "The payment was declined, yet checkout sent TicketObject/markAsSold: those tickets were never paid for.",
            "Tickets that were not paid for are not sold: tell the tickets only when the payment went through.",
        )
    statuses = {s: seat_status(p, s) for s in seats}
    if any(status != "RESERVED" for status in statuses.values()):
        p.fail(
            f"After a declined payment the tickets' statuses are {p.named(list(statuses.values()))}; "
            "they should stay 'RESERVED'."
        )
    left = p.state("CartObject", cart).get("tickets")
    if not isinstance(left, list) or sorted(left) != sorted(seats):
        p.fail(
            f"After a declined payment the cart holds {p.named(left)} instead of {p.named(seats)}: "
            "the user may want to pay again.",
            "After a declined payment the user may want to pay again: the cart empties only once it is paid.",
        )
    p.ok("a declined checkout returns False, sells nothing and keeps the cart")


EMAIL_NOTIFICATIONS = Exercise(
    id="email_notifications",
    section="05",
    title="CheckoutService/handle e-mails the outcome of the payment",
    file="checkout_service.py",
    functions=("handle",),
    start_from="tour/part3",
    solution_from="tour/part4",
    skeleton="""\
from restate import Context, RunOptions

from tour.auxiliary import email_client, payment_client
from tour.auxiliary.settings import TICKET_PRICE


@checkout_service.handler()
async def handle(ctx: Context, order: Order) -> bool:
    total_price = len(order["tickets"]) * TICKET_PRICE
    idempotency_key = str(ctx.uuid())
    paid = await ctx.run_typed(
        "payment", payment_client.call, RunOptions(type_hint=bool), idempotency_key, total_price
    )
    # TODO: e-mail the user about the outcome, in a journaled step of its own:
    #   paid     -> email_client.notify_user_of_payment_success(order["user_id"])
    #   not paid -> email_client.notify_user_of_payment_failure(order["user_id"])
    return paid
""",
    hints=(
        (
            "Sending an e-mail talks to the outside world, so it belongs in a journaled step, just like the "
            "payment: then a retry finds its result instead of sending it twice. Which e-mail depends on the "
            "payment's outcome."
        ),
        (
            "ctx.run_typed(name, function, RunOptions(type_hint=bool), *args) runs a step and journals its result; "
            "pass the function itself and its arguments (not the result of calling it). Choose the function "
            "with if paid: ... else: ...; both take order['user_id']."
        ),
        (
            'await ctx.run_typed("email", email_client.notify_user_of_payment_success, '
            'RunOptions(type_hint=bool), order["user_id"])  - and the same with ..._failure in the else branch.'
        ),
    ),
    check=check_email_notifications,
)


CHECKOUT_MARKS_SOLD = Exercise(
    id="checkout_marks_sold",
    section="05",
    title="CartObject/checkout marks every paid ticket as sold",
    file="cart_object.py",
    functions=("checkout",),
    # A handle that really pays is needed to try a declined payment.
    start_from="tour/part4",
    solution_from="tour/part4",
    skeleton="""\
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    paid = await ctx.service_call(handle, arg=order)
    if paid:
        # TODO: tell the TicketObject of every ticket in the order that it is sold
        #   (TicketObject/markAsSold); the cart does not need to wait for the answers.
        ctx.clear("tickets")
    return paid
""",
    hints=(
        (
            "Each ticket is its own object, keyed by the ticket id: one message per ticket of the order, only "
            "once the payment went through, and nobody waits for the answers."
        ),
        "A message that nobody waits for is ctx.object_send(handler, key=..., arg=None); the handler is mark_as_sold.",
        (
            "for ticket_id in tickets: ctx.object_send(mark_as_sold, key=ticket_id, arg=None)  - "
            "and import mark_as_sold from .ticket_object."
        ),
    ),
    check=check_checkout_marks_sold,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (EMAIL_NOTIFICATIONS, CHECKOUT_MARKS_SOLD)
