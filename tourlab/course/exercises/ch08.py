"""Chapter 08, workflows: a durable promise completed by a shared handler, raced against a durable timer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from tourlab import InvocationError
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
            'run asks the provider for the money, then waits: ctx.promise("payment", ...).value().',
        )


def _confirm(p: Probe, key: str, confirmation: dict[str, Any]) -> tuple[str, InvocationError | None]:
    """Call confirmPayment of workflow `key`; fails at once if it waits for the promise itself."""
    confirm_id = p.start(_WORKFLOW, key, "confirmPayment", confirmation)
    seen = p.follow(confirm_id, _CONFIRM, _waits_for_promise)
    if not seen.done and _waits_for_promise(seen):
        p.fail(
            "confirmPayment waits for the promise 'payment' itself instead of completing it, so neither it nor "
            "run ever goes on. The check stopped it.",
            "Waiting is run's part (.value()); confirmPayment completes the promise: "
            'await ctx.promise("payment", type_hint=PaymentConfirmation).resolve(confirmation).',
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
                'A promise is found by its name: ctx.promise("payment") in both handlers.',
            )
        p.fail(f"confirmPayment completed the promise 'payment', but {_RUN} still waits ({seen.status!r}).")
    result, failed = outcome_of(p, run_id)
    if failed is not None:
        p.fail(
            f"After confirmPayment, run ended with an error: {failed}",
            "resolve(...) hands run a value; reject(...) makes run's await raise a TerminalError.",
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
                "confirm_payment gets the confirmation as its argument: resolve(confirmation).",
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
            'Finish section.check("confirm_payment") first, then: restate.select(paid=payment.value(), '
            "timeout=ctx.sleep(payment_timeout())).",
        )
    paid, failed = outcome_of(p, run_id)
    if failed is not None:
        p.fail(f"A payment confirmed in time made run end with an error: {failed}", error_hint(str(failed)))
    if paid is not True:
        p.fail(
            f"The payment was confirmed in time, yet run returned {paid!r}.",
            "select names the winner after its keyword: with select(paid=..., timeout=...) a confirmed payment "
            'gives ["paid", <confirmation>], so compare with "paid".',
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
        "Take the duration from the settings, so it can be configured: ctx.sleep(payment_timeout()) "
        "(TOUR_PAYMENT_TIMEOUT_SECONDS; 10 minutes by default).",
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
            PAYMENT_TIMEOUT.hints[1],
        )
    if not any(e.entry_type == "Command: Sleep" for e in entries):
        p.fail(
            "run gave up on the payment without a durable timer in its journal: after a crash or a restart "
            "it would wait again from the start.",
            "Use Restate's timer, ctx.sleep(payment_timeout()), inside restate.select.",
        )
    p.ok("no payment within payment_timeout(): run returns False, woken by a durable timer (ctx.sleep)")
    released = released_seats(entries)
    kept = [s for s in order["tickets"] if s not in released]
    if kept:
        p.fail(
            f"After the payment timed out run did not release {p.named(kept)}: they stay RESERVED for nobody.",
            'for ticket_id in order["tickets"]: ctx.object_send(unreserve, key=ticket_id, arg=None)',
        )
    await_messages(p, entries, "unreserve", "run sent unreserve")
    if unavailable(p, order["tickets"]):
        p.fail(f"run sent unreserve, but {p.named(unavailable(p, order['tickets']))} are still not available.")
    p.ok("after the timeout every seat is released")
    mails = mails_to(order["user_id"])
    status = p.invoke(_WORKFLOW, key, "status")
    if mails != ["payment failed"] or not isinstance(status, dict) or status.get("status") != "payment timed out":
        p.fail(
            f"After the timeout the user got {mails} and status says {p.named(status)}; expected one "
            "'payment failed' e-mail and the status 'payment timed out'.",
            'In the timeout branch: the failure e-mail as a ctx.run_typed step, then ctx.set("status", '
            '"payment timed out").',
        )
    p.ok("the user gets one 'payment failed' e-mail and status says 'payment timed out'")


def check_payment_timeout(p: Probe) -> None:
    """CheckoutWorkflow/run races the payment against a durable timer (section 08).

    Checked, for orders of two RESERVED seats: confirmed in time (confirmPayment), run returns
    True, sells the seats and sends one "payment succeeded" e-mail; with no confirmation within
    payment_timeout() (1 s: the check sets TOUR_PAYMENT_TIMEOUT_SECONDS), run returns False soon
    after, woken by a durable timer (ctx.sleep in its journal; a timer set for longer than
    payment_timeout() is named), sells nothing, releases every seat, sends one "payment failed"
    e-mail and sets the status "payment timed out".
    """
    _paid_in_time(p)
    _payment_times_out(p)


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
            'A shared handler can complete the workflow\'s promises: ctx.promise("payment") gives the same '
            "promise that run waits for, as long as the name is the same."
        ),
        (
            "A promise has .value() (wait for it: that is run's part), .peek() (look without waiting) and "
            ".resolve(value) (complete it: that is this handler's part)."
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
            "restate.select(paid=..., timeout=...) waits for whichever of two durable futures completes "
            "first: the promise's payment.value() and the timer ctx.sleep(payment_timeout())."
        ),
        (
            'select answers a list [name, value], e.g. ["timeout", None]. A non-empty list is always true, '
            'so compare the name: match await restate.select(...): case ["paid", _]: ... case _: ...'
        ),
        (
            'In the timeout branch: for ticket_id in order["tickets"]: ctx.object_send(unreserve, '
            'key=ticket_id, arg=None); the failure e-mail as a ctx.run_typed step; ctx.set("status", '
            '"payment timed out"); return False.'
        ),
    ),
    check=check_payment_timeout,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (CONFIRM_PAYMENT, PAYMENT_TIMEOUT)
