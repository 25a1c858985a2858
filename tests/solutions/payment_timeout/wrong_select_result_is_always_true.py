# WRONG: treats select's answer as a yes/no, but ["timeout", None] is a non-empty list (true)
# base: tour/part5
# expect: yet after the timeout run returned True and sold the seats
# hint: run must look at which of the two won
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
    if await restate.select(paid=payment.value(), timeout=ctx.sleep(payment_timeout())):
        for ticket_id in order["tickets"]:
            ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
        await ctx.run_typed(
            "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
        )
        ctx.set("status", "paid")
        return True
    for ticket_id in order["tickets"]:
        ctx.object_send(unreserve, key=ticket_id, arg=None)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", "payment timed out")
    return False
