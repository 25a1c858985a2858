# WRONG: a fixed ten-minute timer instead of payment_timeout(), so it cannot be configured
# base: tour/part5
# expect: not after payment_timeout() (1 s in this check)
# hint: take the duration from there
from datetime import timedelta


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
    match await restate.select(paid=payment.value(), timeout=ctx.sleep(timedelta(minutes=10))):
        case ["paid", _]:
            for ticket_id in order["tickets"]:
                ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
            await ctx.run_typed(
                "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
            )
            ctx.set("status", "paid")
            return True
        case _:
            for ticket_id in order["tickets"]:
                ctx.object_send(unreserve, key=ticket_id, arg=None)
            await ctx.run_typed(
                "email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), order["user_id"]
            )
            ctx.set("status", "payment timed out")
            return False
