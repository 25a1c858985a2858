# WRONG: compares the winner with the promise's name instead of select's keyword, so a payment never counts
# base: tour/part5
# expect: The payment was confirmed in time, yet run returned False
# hint: look at how the race names its winner
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
    winner, _ = await restate.select(paid=payment.value(), timeout=ctx.sleep(payment_timeout()))
    if winner == "payment":
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
