# RIGHT: restate.wait_completed instead of select, and one helper per outcome
# base: tour/part5
async def sell(ctx: WorkflowContext, order: Order) -> bool:
    for ticket_id in order["tickets"]:
        ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", "paid")
    return True


async def give_up(ctx: WorkflowContext, order: Order) -> bool:
    for ticket_id in order["tickets"]:
        ctx.object_send(unreserve, key=ticket_id, arg=None)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", "payment timed out")
    return False


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
    paid = ctx.promise("payment", type_hint=PaymentConfirmation).value()
    deadline = ctx.sleep(payment_timeout())
    done, _pending = await restate.wait_completed(paid, deadline)
    if paid in done:
        return await sell(ctx, order)
    return await give_up(ctx, order)
