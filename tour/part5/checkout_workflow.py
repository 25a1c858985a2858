"""Checkout as a workflow: one run per order id that waits durably for the payment.

The provider answers with `confirmPayment` or `rejectPayment`; `run` also gives up when the
payment timeout fires first. `rejectPayment` rejects the promise with code 402, which is how
`run` tells a rejection from a cancel of the checkout (a TerminalError with 409): both release
the seats, and the cancel is raised again so that the caller learns about it.
"""

from typing import TypedDict

import restate
from restate import RunOptions, TerminalError, WorkflowContext, WorkflowSharedContext

from tour.auxiliary import email_client, payment_provider
from tour.auxiliary.settings import TICKET_PRICE, payment_timeout
from tour.part5.checkout_service import Order
from tour.part5.ticket_object import mark_as_sold, unreserve

checkout_workflow = restate.Workflow("CheckoutWorkflow")

#: The code `rejectPayment` rejects the promise with (HTTP 402 Payment Required).
PAYMENT_REJECTED = 402


class PaymentConfirmation(TypedDict):
    payment_id: str
    amount: int


class CheckoutStatus(TypedDict):
    status: str
    payment: PaymentConfirmation | None


@checkout_workflow.main()
async def run(ctx: WorkflowContext, order: Order) -> bool:
    """Ask the provider for the money; wait for its confirmation or rejection, or the payment timeout."""
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
    try:
        match await restate.select(paid=payment.value(), timeout=ctx.sleep(payment_timeout())):
            case ["paid", _]:
                for ticket_id in order["tickets"]:
                    ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
                await ctx.run_typed(
                    "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
                )
                ctx.set("status", "paid")
                return True
            case _:  # the timer fired first
                outcome = "payment timed out"
    except TerminalError as error:  # rejectPayment (402), or a cancel of this checkout (409)
        if error.status_code != PAYMENT_REJECTED:  # cancelled: release the seats, then end with the cancel
            for ticket_id in order["tickets"]:
                ctx.object_send(unreserve, key=ticket_id, arg=None)
            ctx.set("status", "cancelled")
            raise
        outcome = f"payment rejected: {error.message}"

    for ticket_id in order["tickets"]:
        ctx.object_send(unreserve, key=ticket_id, arg=None)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", outcome)
    return False


@checkout_workflow.handler()
async def status(ctx: WorkflowSharedContext) -> CheckoutStatus:
    """Where the checkout is, and the confirmation if one arrived (peek does not wait)."""
    try:
        payment = await ctx.promise("payment", type_hint=PaymentConfirmation).peek()
    except TerminalError:  # peek raises the rejection of a rejected promise
        payment = None
    return {"status": await ctx.get("status", type_hint=str) or "not started", "payment": payment}


@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    """The provider's answer: completes the promise that run waits on (only once)."""
    await ctx.promise("payment", type_hint=PaymentConfirmation).resolve(confirmation)


@checkout_workflow.handler("rejectPayment")
async def reject_payment(ctx: WorkflowSharedContext, reason: str) -> None:
    """The provider's refusal: rejects the promise that run waits on (only once), with code 402."""
    await ctx.promise("payment", type_hint=PaymentConfirmation).reject(reason, PAYMENT_REJECTED)
