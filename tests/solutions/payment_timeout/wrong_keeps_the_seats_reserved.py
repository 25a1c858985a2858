# WRONG: on a timeout it e-mails and returns False but never releases the seats
# base: tour/part5
# expect: After the payment timed out, run did not release
# hint: releases every seat it held
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
    match await restate.select(paid=payment.value(), timeout=ctx.sleep(payment_timeout())):
        case ["paid", _]:
            for ticket_id in order["tickets"]:
                ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
            await ctx.run_typed(
                "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
            )
            ctx.set("status", "paid")
            return True
        case _:
            await ctx.run_typed(
                "email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), order["user_id"]
            )
            ctx.set("status", "payment timed out")
            return False
