# WRONG: passes the cancel on but forgets to release the seats first, so they stay reserved for nobody
# base: tour/part5
# expect: After the cancel, run did not release
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
            case _:
                outcome = "payment timed out"
    except TerminalError as error:
        if error.status_code != PAYMENT_REJECTED:
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
