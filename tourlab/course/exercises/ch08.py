"""Chapter 08, workflows: a durable promise completed by a shared handler, raced against a durable timer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from tourlab import InvocationError, JournalEntry
from tourlab.course.exercises.hints import error_hint
from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import (
    Probe,
    Seen,
    await_messages,
    environment,
    mails_to,
    messages,
    outcome_of,
    released_seats,
    seat_status,
    unavailable,
)

_WORKFLOW = "CheckoutWorkflow"
_RUN = "CheckoutWorkflow/<key>/run"
_CONFIRM = "CheckoutWorkflow/<key>/confirmPayment"


def _submit(p: Probe, key: str, order: dict[str, Any]) -> str:
    """Start the checkout workflow `key` (its run handler) without waiting for it."""
    inv_id = p.lab.submit(_WORKFLOW, key, order).invocation_id
    p.sent.append(inv_id)
    p.last_id = inv_id
    return inv_id


def _waits_for_promise(seen: Seen) -> bool:
    return any(e.entry_type == "Command: GetPromise" and e.completed is False for e in seen.entries)


def _checkout_order(p: Probe, name: str, seat_names: list[str]) -> tuple[str, dict[str, Any]]:
    """A workflow id and an order of RESERVED seats for it (nobody else uses them)."""
    seats = [p.key(seat) for seat in seat_names]
    p.seed({("TicketObject", seat): {"status": "RESERVED"} for seat in seats})
    return p.key(name), {"user_id": p.key(f"{name}-user"), "tickets": seats}


def _until_waiting_for_payment(p: Probe, run_id: str) -> None:
    seen = p.follow(run_id, _RUN, _waits_for_promise)
    if not _waits_for_promise(seen):
        p.fail(
            f"{_RUN} did not get to wait for the promise 'payment' within {p.timeout:g} s "
            f"(it was {seen.status!r}), so the check could not confirm a payment.",
            "run asks the provider for the money, then waits for the promise 'payment': keep that part of run "
            "as it was.",
        )


def _confirm(p: Probe, key: str, confirmation: dict[str, Any]) -> tuple[str, InvocationError | None]:
    """Call confirmPayment of workflow `key`; fails at once if it waits for the promise itself."""
    confirm_id = p.start(_WORKFLOW, key, "confirmPayment", confirmation)
    seen = p.follow(confirm_id, _CONFIRM, _waits_for_promise)
    if not seen.done and _waits_for_promise(seen):
        p.fail(
            "confirmPayment waits for the promise 'payment' itself instead of completing it, so neither it nor "
            "run ever goes on. The check stopped it.",
            "Waiting for the promise is run's part; confirmPayment completes it and returns at once.",
        )
    if not seen.done:
        p.fail(f"{_CONFIRM} did not finish within {p.timeout:g} s (it was {seen.status!r}); the check stopped it.")
    return confirm_id, outcome_of(p, confirm_id)[1]


def _run_after_confirmation(p: Probe, run_id: str, confirm_id: str) -> Any:
    """What run returns once confirmPayment answered; explains why it still waits if it does."""
    seen = p.follow(run_id, _RUN, timeout=4.0)
    if not seen.done:
        completed = [e.name for e in p.lab.journal(confirm_id) if e.entry_type == "Command: CompletePromise"]
        if not completed:
            p.fail("confirmPayment answered, but it completed no promise, so run still waits for 'payment'.")
        if "payment" not in completed:
            p.fail(
                f"confirmPayment completed the promise {completed[0]!r}, but run waits for the promise 'payment'.",
                "A promise is found by its name: both handlers must name the same one.",
            )
        p.fail(f"confirmPayment completed the promise 'payment', but {_RUN} still waits ({seen.status!r}).")
    result, failed = outcome_of(p, run_id)
    if failed is not None:
        p.fail(
            f"After confirmPayment, run ended with an error: {failed}",
            "Completing the promise with a value hands run that value; completing it with a failure (a "
            "rejection) makes run's wait fail.",
        )
    return result


def check_confirm_payment(p: Probe) -> None:
    """CheckoutWorkflow/confirmPayment completes the durable promise run waits for (section 08).

    Checked, with a payment timeout far away: while run waits for the promise "payment",
    confirmPayment with the provider's confirmation answers without waiting itself, run then
    finishes and returns True, and status (which peeks at the promise) shows exactly that
    confirmation. A confirmation that arrives before run asks for it is kept: a run started
    afterwards finishes at once.
    """
    with environment(TOUR_PAYMENT_TIMEOUT_SECONDS="3600"):
        key, order = _checkout_order(p, "order", ["seat-a", "seat-b"])
        run_id = _submit(p, key, order)
        _until_waiting_for_payment(p, run_id)
        confirmation = {"payment_id": p.key("payment"), "amount": 80}
        confirm_id, failed = _confirm(p, key, confirmation)
        if failed is not None:
            p.fail(f"confirmPayment ended with an error: {failed}", error_hint(str(failed)))
        p.ok("confirmPayment answers without waiting")
        paid = _run_after_confirmation(p, run_id, confirm_id)
        if paid is not True:
            p.fail(f"After confirmPayment run returned {paid!r}; with the payment confirmed it returns True.")
        p.ok("once confirmPayment completed the promise 'payment', run goes on and returns True")
        status = p.invoke(_WORKFLOW, key, "status")
        payment = status.get("payment") if isinstance(status, dict) else None
        if payment != confirmation:
            p.fail(
                f"The provider confirmed {p.named(confirmation)}, but the promise holds {p.named(payment)} "
                "(status peeks at it): resolve it with the confirmation itself.",
                "The promise must hold the provider's confirmation itself, the argument confirmPayment got.",
            )
        p.ok("the promise holds the provider's confirmation (status shows it)")
        early_key, early_order = _checkout_order(p, "early-order", ["seat-c"])
        early_id, failed = _confirm(p, early_key, {"payment_id": p.key("early-payment"), "amount": 40})
        if failed is not None:
            p.fail(f"confirmPayment before run started ended with an error: {failed}", error_hint(str(failed)))
        if _run_after_confirmation(p, _submit(p, early_key, early_order), early_id) is not True:
            p.fail("A confirmation that came before run started was lost: run did not return True.")
    p.ok("a confirmation that arrives before run waits for it is kept")


def _paid_in_time(p: Probe) -> None:
    with environment(TOUR_PAYMENT_TIMEOUT_SECONDS="3600"):
        key, order = _checkout_order(p, "order", ["seat-a", "seat-b"])
        run_id = _submit(p, key, order)
        _until_waiting_for_payment(p, run_id)
        confirm_id, failed = _confirm(p, key, {"payment_id": p.key("payment"), "amount": 80})
        completes = any(
            e.entry_type == "Command: CompletePromise" and e.name == "payment" for e in p.lab.journal(confirm_id)
        )
        if failed is not None or not completes:
            p.fail(
                "The check confirms a payment with confirmPayment, which "
                + (f"ended with an error: {failed}" if failed else "does not complete the promise 'payment' yet.")
                + " It cannot try the paid branch of run without it.",
                'Finish section.check("confirm_payment") first.',
            )
        seen = p.follow(run_id, _RUN, timeout=4.0)
    if not seen.done:
        p.fail(
            "confirmPayment completed the promise 'payment', but run keeps waiting: the race must include "
            "payment.value().",
            "The wait must end as soon as the payment arrives, not only when the timer fires: the promise "
            "takes part in the race.",
        )
    paid, failed = outcome_of(p, run_id)
    if failed is not None:
        p.fail(f"A payment confirmed in time made run end with an error: {failed}", error_hint(str(failed)))
    if paid is not True:
        p.fail(
            f"The payment was confirmed in time, yet run returned {paid!r}.",
            "The payment won the race here, yet run took another branch: look at how the race names its winner.",
        )
    p.ok("a payment confirmed in time: run returns True")
    entries = p.journal(run_id)
    if released_seats(entries):
        p.fail("The payment was confirmed in time, yet run released the seats (TicketObject/unreserve).")
    await_messages(p, entries, "markAsSold", "run sent markAsSold")
    unsold = [s for s in order["tickets"] if seat_status(p, s) != "SOLD"]
    if unsold or mails_to(order["user_id"]) != ["payment succeeded"]:
        p.fail(
            f"After a payment in time the seats are {p.named([seat_status(p, s) for s in order['tickets']])} and the "
            f"user got {mails_to(order['user_id'])}; expected SOLD seats and one 'payment succeeded' e-mail.",
            "Keep the paid branch as it was: markAsSold for every seat, the success e-mail, status 'paid'.",
        )
    p.ok("the paid seats are SOLD and the user gets one 'payment succeeded' e-mail")


def _timer_problem(p: Probe, seen: Seen) -> NoReturn:
    sleeps = [e for e in seen.entries if e.entry_type == "Command: Sleep"]
    if not sleeps:
        p.fail(
            "Nobody confirmed the payment, and seconds after the payment timeout (1 s in this check) run still "
            "waits for it: nothing races the promise. The check stopped it.",
        )
    created = seen.invocation.created_at if seen.invocation else None
    wake = sleeps[0].wake_up_at
    seconds = (
        (datetime.fromisoformat(wake) - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()
        if wake and created
        else None
    )
    after = f"{seconds:.0f} s after run started" if seconds is not None else "later"
    p.fail(
        f"run's timer fires {after}, not after payment_timeout() (1 s in this check). The check stopped it.",
        "The wait ends after payment_timeout(), which the settings (and this check) can change: take the "
        "duration from there, not a fixed one.",
    )


def _payment_times_out(p: Probe) -> None:
    with environment(TOUR_PAYMENT_TIMEOUT_SECONDS="1"):
        key, order = _checkout_order(p, "late-order", ["seat-c", "seat-d"])
        run_id = _submit(p, key, order)
        seen = p.follow(run_id, _RUN, timeout=7.0)
    if not seen.done:
        _timer_problem(p, seen)
    result, failed = outcome_of(p, run_id)
    if failed is not None:
        p.fail(f"When the payment timed out, run ended with an error: {failed}", error_hint(str(failed)))
    entries = p.journal(run_id)
    sold = messages(entries, "TicketObject", "markAsSold")
    if result is not False or sold:
        p.fail(
            f"Nobody confirmed the payment, yet after the timeout run returned {result!r}"
            + (" and sold the seats" if sold else "")
            + ".",
            "Nobody confirmed, so the timer won the race: run must look at which of the two won, and only a "
            "payment that won means paid.",
        )
    if not any(e.entry_type == "Command: Sleep" for e in entries):
        p.fail(
            "run gave up on the payment without a durable timer in its journal: after a crash or a restart "
            "it would wait again from the start.",
            "A timer in the endpoint's memory starts again from zero after a crash or a restart; a durable "
            "timer is kept by Restate, in the journal.",
        )
    p.ok("no payment within payment_timeout(): run returns False, woken by a durable timer (ctx.sleep)")
    _seats_released(p, entries, order["tickets"], "After the payment timed out")
    p.ok("after the timeout every seat is released")
    _told_why(p, key, order["user_id"], "payment timed out", "After the timeout")
    p.ok("the user gets one 'payment failed' e-mail and status says 'payment timed out'")


def _seats_released(p: Probe, entries: list[JournalEntry], seats: list[str], when: str) -> None:
    """The journal sold nothing and released every seat once, and the seats are available again."""
    released = released_seats(entries)
    if messages(entries, "TicketObject", "markAsSold"):
        p.fail(f"{when}, run sold the seats: nobody paid for them.")
    if [s for s in seats if s not in released]:
        p.fail(
            f"{when}, run did not release {p.named([s for s in seats if s not in released])}: they stay "
            "RESERVED for nobody.",
            "An order that ends unpaid releases every seat it held, or they stay RESERVED for nobody.",
        )
    if len(released) != len(set(released)):
        p.fail(f"{when}, run released a seat more than once: {p.named(released)}.")
    await_messages(p, entries, "unreserve", "run sent unreserve")
    if unavailable(p, seats):
        p.fail(f"run sent unreserve, but {p.named(unavailable(p, seats))} are still not available.")


def _told_why(p: Probe, key: str, user: str, outcome: str, when: str) -> None:
    """The user got exactly one "payment failed" e-mail and status says `outcome`."""
    mails, status = mails_to(user), p.invoke(_WORKFLOW, key, "status")
    if mails != ["payment failed"] or not isinstance(status, dict) or status.get("status") != outcome:
        p.fail(
            f"{when} the user got {mails} and status says {p.named(status)}; expected one 'payment failed' "
            f"e-mail and the status {outcome!r}.",
            "An order that ends unpaid tells its user once, and its status says why it ended.",
        )


def _waiting_checkout(p: Probe, name: str) -> tuple[str, dict[str, Any], str]:
    """A checkout of two RESERVED seats whose run waits for the promise, the payment timeout far away."""
    with environment(TOUR_PAYMENT_TIMEOUT_SECONDS="600"):
        key, order = _checkout_order(p, name, [f"{name}-seat-a", f"{name}-seat-b"])
        run_id = _submit(p, key, order)
        _until_waiting_for_payment(p, run_id)
    return key, order, run_id


def _payment_rejected(p: Probe) -> None:
    key, order, run_id = _waiting_checkout(p, "declined")
    try:
        p.invoke(_WORKFLOW, key, "rejectPayment", "card declined")
    except InvocationError as missing:
        p.fail(
            f"The check rejects a payment with rejectPayment, which failed: {missing}",
            "Run the cell above the exercise that adds rejectPayment, then check again.",
        )
    seen = p.follow(run_id, _RUN, timeout=4.0)
    if not seen.done:
        p.fail(f"rejectPayment rejected the promise 'payment', but {_RUN} still waits ({seen.status!r}).")
    result, failed = outcome_of(p, run_id)
    if failed is not None:
        p.fail(
            f"After rejectPayment('card declined') run ended with an error: {failed}. The rejection was not "
            "handled: the order ends failed, and nothing releases its seats or tells the user.",
            "A rejection is an answer from the provider, like the timeout: run must catch it and end the order "
            "unpaid, not fail with it.",
        )
    if result is not False:
        p.fail(f"The payment was rejected, yet run returned {result!r}; a rejected order returns False.")
    p.ok("a rejected payment (rejectPayment 'card declined'): run returns False")
    _seats_released(p, p.journal(run_id), order["tickets"], "After the rejection")
    _told_why(p, key, order["user_id"], "payment rejected: card declined", "After the rejection")
    p.ok("after a rejection every seat is released once, one 'payment failed' e-mail, status 'payment rejected: ...'")


def _checkout_cancelled(p: Probe) -> None:
    key, order, run_id = _waiting_checkout(p, "cancelled")
    p.lab.cancel(run_id)
    seen = p.follow(run_id, _RUN, timeout=4.0)
    if not seen.done:
        p.fail(f"The check cancelled {_RUN} while it waited, but it did not end ({seen.status!r}).")
    result, failed = outcome_of(p, run_id)
    if failed is None or failed.status_code != 409:
        p.fail(
            f"A cancel of the waiting checkout made run end with {failed or repr(result)} instead of the cancel "
            "(409): whoever waits for the checkout never learns it was cancelled.",
            "A cancel is not an answer from the provider: run undoes the order, then ends as cancelled.",
        )
    _seats_released(p, p.journal(run_id), order["tickets"], "After the cancel")
    status = p.invoke(_WORKFLOW, key, "status")
    if not isinstance(status, dict) or status.get("status") != "cancelled":
        p.fail(f"After the cancel status says {p.named(status)}; expected the status 'cancelled'.")
    p.ok("a cancelled checkout: run releases the seats, status says 'cancelled', and it ends cancelled (409)")


def check_payment_timeout(p: Probe) -> None:
    """CheckoutWorkflow/run races the payment against a durable timer (section 08).

    Checked, for orders of two RESERVED seats: confirmed in time (confirmPayment), run returns
    True, sells the seats and sends one "payment succeeded" e-mail; with no confirmation within
    payment_timeout() (1 s: the check sets TOUR_PAYMENT_TIMEOUT_SECONDS), run returns False soon
    after, woken by a durable timer (ctx.sleep in its journal; a timer set for longer than
    payment_timeout() is named), sells nothing, releases every seat, sends one "payment failed"
    e-mail and sets the status "payment timed out". Rejected (rejectPayment "card declined", 600 s
    timeout): the same, returning False, with the status "payment rejected: card declined".
    Cancelled while waiting: seats released, status "cancelled", run ends with the cancel (409).
    """
    _paid_in_time(p)
    _payment_times_out(p)
    _payment_rejected(p)
    _checkout_cancelled(p)


CONFIRM_PAYMENT = Exercise(
    id="confirm_payment",
    section="08",
    title="CheckoutWorkflow/confirmPayment completes the promise run waits for",
    file="checkout_workflow.py",
    functions=("confirm_payment",),
    # The reference checkpoint, so the rest of the app works (a candidate replaces one handler).
    start_from="tour/part5",
    solution_from="tour/part5",
    skeleton="""\
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    # TODO: hand the provider's confirmation to run, which waits for the durable promise
    #   "payment": complete that promise with the confirmation (and do not wait for it here).
    return
""",
    hints=(
        (
            "run waits for a durable promise named payment. This handler's part is to complete that promise "
            "with the provider's confirmation, not to wait for it. Any handler of the same workflow reaches "
            "the promise by its name."
        ),
        (
            'ctx.promise("payment", type_hint=PaymentConfirmation) gives that promise: .value() waits for it '
            "(run's part), .peek() looks without waiting, .resolve(value) completes it (this handler's part)."
        ),
        'await ctx.promise("payment", type_hint=PaymentConfirmation).resolve(confirmation)',
    ),
    check=check_confirm_payment,
)


PAYMENT_TIMEOUT = Exercise(
    id="payment_timeout",
    section="08",
    title="CheckoutWorkflow/run stops waiting when the payment timeout fires",
    file="checkout_workflow.py",
    functions=("run",),
    # The reference checkpoint, so the rest of the app works (a candidate replaces one handler).
    start_from="tour/part5",
    solution_from="tour/part5",
    skeleton="""\
from tour.auxiliary.settings import TICKET_PRICE, payment_timeout

from .ticket_object import mark_as_sold, unreserve


@checkout_workflow.main()
async def run(ctx: WorkflowContext, order: Order) -> bool:
    amount = len(order["tickets"]) * TICKET_PRICE
    ctx.set("status", "waiting for payment")
    await ctx.run_typed(
        "request payment",
        payment_provider.request_payment,
        RunOptions(type_hint=bool),
        ctx.key(),
        order["user_id"],
        amount,
    )

    payment = ctx.promise("payment", type_hint=PaymentConfirmation)
    # TODO: run waits for the payment for ever. Make it stop waiting after payment_timeout(),
    #   also when the endpoint crashes or restarts in between, and make it answer a rejection
    #   (rejectPayment rejects the promise "payment" with code 402 and a reason).
    #   - A timeout or a rejection ends the order unpaid: every seat released
    #     (TicketObject/unreserve), nothing sold, one failure e-mail
    #     (email_client.notify_user_of_payment_failure), "status" set to "payment timed out"
    #     or "payment rejected: <reason>", and run returns False.
    #   - A cancel of this checkout (409 'cancelled') releases the seats too and sets "status"
    #     to "cancelled", but it must still end run as cancelled, so the caller learns of it.
    #   - A payment confirmed in time goes on as below.
    await payment.value()
    for ticket_id in order["tickets"]:
        ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", "paid")
    return True
""",
    hints=(
        (
            "run races two things that are both durable: the provider's answer and a timer, and goes on with "
            "whichever comes first. A rejection, and a cancel, arrive as a failure of that wait: tell them "
            "apart by their code, undo the order for both, and let the cancel go on, so whoever waits for "
            "the checkout learns of it."
        ),
        (
            "restate.select(paid=payment.value(), timeout=ctx.sleep(payment_timeout())) answers [name, value] "
            "(a non-empty list is always true: compare the name). A rejected promise or a cancel makes it raise "
            "TerminalError; error.status_code is PAYMENT_REJECTED (402) for a rejection, 409 for a cancel, "
            "and a bare raise passes the cancel on."
        ),
        (
            'try: match await restate.select(...): case ["paid", _]: <sell, e-mail, status "paid", return True> '
            'case _: outcome = "payment timed out"  except TerminalError as error: if error.status_code != '
            'PAYMENT_REJECTED: <unreserve every seat>; ctx.set("status", "cancelled"); raise  - else outcome = '
            'f"payment rejected: {error.message}". Then: unreserve every seat, the failure e-mail as a '
            'ctx.run_typed step, ctx.set("status", outcome), return False.'
        ),
    ),
    check=check_payment_timeout,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (CONFIRM_PAYMENT, PAYMENT_TIMEOUT)
