"""Checkout as a workflow: one run per order id that waits durably for the payment."""

from typing import TypedDict

import restate
from restate import RunOptions, WorkflowContext, WorkflowSharedContext

from tour.auxiliary import email_client, payment_provider
from tour.auxiliary.settings import TICKET_PRICE, payment_timeout
from tour.part7.checkout_service import Order
from tour.part7.ticket_object import mark_as_sold, unreserve

checkout_workflow = restate.Workflow("CheckoutWorkflow")


class PaymentConfirmation(TypedDict):
    payment_id: str
    amount: int


class CheckoutStatus(TypedDict):
    status: str
    payment: PaymentConfirmation | None


@checkout_workflow.main()
async def run(ctx: WorkflowContext, order: Order) -> bool:
    """Ask the provider for the money, then wait for confirmPayment or the payment timeout."""
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
            for ticket_id in order["tickets"]:
                ctx.object_send(unreserve, key=ticket_id, arg=None)
            await ctx.run_typed(
                "email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), order["user_id"]
            )
            ctx.set("status", "payment timed out")
            return False


@checkout_workflow.handler()
async def status(ctx: WorkflowSharedContext) -> CheckoutStatus:
    """Where the checkout is, and the confirmation if one arrived (peek does not wait)."""
    payment = await ctx.promise("payment", type_hint=PaymentConfirmation).peek()
    return {"status": await ctx.get("status", type_hint=str) or "not started", "payment": payment}


@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    """The provider's answer: completes the promise that run waits on (only once)."""
    await ctx.promise("payment", type_hint=PaymentConfirmation).resolve(confirmation)
