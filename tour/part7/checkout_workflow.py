"""The shop's checkout: one workflow per order that waits for the payment, then sells or undoes."""

from datetime import timedelta
from typing import TypedDict

import restate
from restate import RunOptions, TerminalError, WorkflowContext, WorkflowSharedContext

from tour.auxiliary import email_client, payment_provider
from tour.auxiliary.settings import TICKET_PRICE, payment_timeout
from tour.part7.ticket_object import mark_as_sold, unreserve

# An order waits minutes for its payment. Restate keeps a waiting invocation open on the endpoint
# until its inactivity timeout (1 minute by default), then suspends it: shorten that here.
checkout_workflow = restate.Workflow("CheckoutWorkflow", inactivity_timeout=timedelta(seconds=1))

#: The code `rejectPayment` rejects the promise with (HTTP 402 Payment Required), as in tour/part5.
PAYMENT_REJECTED = 402


class Order(TypedDict):
    user_id: str
    tickets: list[str]


class PaymentConfirmation(TypedDict):
    payment_id: str
    amount: int


class CheckoutStatus(TypedDict):
    status: str
    payment: PaymentConfirmation | None


def is_cancel(error: TerminalError) -> bool:
    """SDK 1.3 raises a cancel as TerminalError("cancelled", 409) at the await that was waiting."""
    return error.status_code == 409 and error.message == "cancelled"


@checkout_workflow.main()
async def run(ctx: WorkflowContext, order: Order) -> bool:
    """Ask the provider, wait for its answer, the shop's, or the timeout; sell the seats or release them."""
    user, seats = order["user_id"], order["tickets"]
    ctx.set("status", "waiting for payment")
    # The provider answers to an awakeable; people at the shop answer by order id (confirm/rejectPayment).
    callback_id, provider_answer = ctx.awakeable(type_hint=PaymentConfirmation)
    ctx.set("payment_callback", callback_id)
    await ctx.run_typed(
        "request payment",
        payment_provider.request_payment_with_callback,
        RunOptions(type_hint=bool),
        callback_id,
        user,
        len(seats) * TICKET_PRICE,
    )
    payment = ctx.promise("payment", type_hint=PaymentConfirmation)
    try:
        winner, confirmation = await restate.select(
            provider=provider_answer, shop=payment.value(), timeout=ctx.sleep(payment_timeout())
        )
    except TerminalError as failure:
        if is_cancel(failure):  # undo, then end as cancelled: the caller must learn of the cancel
            release(ctx, seats, "cancelled")
            raise
        return await give_up(ctx, seats, user, f"payment rejected: {failure.message}")
    if winner == "timeout":
        return await give_up(ctx, seats, user, "payment timed out")

    for seat in seats:
        ctx.object_send(mark_as_sold, key=seat, arg=None)
    ctx.set("payment", confirmation)
    await ctx.run_typed("email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), user)
    ctx.set("status", "paid")
    return True


def release(ctx: WorkflowContext, seats: list[str], outcome: str) -> None:
    """The compensation of a checkout that ends unpaid: free the seats the cart reserved, say why."""
    for seat in reversed(seats):
        ctx.object_send(unreserve, key=seat, arg=None)
    ctx.set("status", outcome)


async def give_up(ctx: WorkflowContext, seats: list[str], user: str, outcome: str) -> bool:
    """The provider said no or never answered: release the seats and tell the user (a cancel is not told)."""
    release(ctx, seats, outcome)
    await ctx.run_typed("email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), user)
    return False


@checkout_workflow.handler()
async def status(ctx: WorkflowSharedContext) -> CheckoutStatus:
    """Where the checkout is, and the confirmation that paid it (from the provider or the shop)."""
    payment = await ctx.get("payment", type_hint=PaymentConfirmation)
    return {"status": await ctx.get("status", type_hint=str) or "not started", "payment": payment}


@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    """The shop's own answer by order id: completes the promise run waits on (only once)."""
    await ctx.promise("payment", type_hint=PaymentConfirmation).resolve(confirmation)


@checkout_workflow.handler("rejectPayment")
async def reject_payment(ctx: WorkflowSharedContext, reason: str) -> None:
    """Turn the payment down by order id: run gets the reason as a TerminalError (402) and releases the seats."""
    await ctx.promise("payment", type_hint=PaymentConfirmation).reject(reason, PAYMENT_REJECTED)
