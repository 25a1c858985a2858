# RIGHT: restate.wait_completed instead of select, one helper per outcome, and a cancel told by its message
# base: tour/part5
async def sell(ctx: WorkflowContext, order: Order) -> bool:
    for ticket_id in order["tickets"]:
        ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", "paid")
    return True


def release(ctx: WorkflowContext, order: Order) -> None:
    for ticket_id in order["tickets"]:
        ctx.object_send(unreserve, key=ticket_id, arg=None)


async def give_up(ctx: WorkflowContext, order: Order, why: str) -> bool:
    release(ctx, order)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", why)
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
    try:
        done, _pending = await restate.wait_completed(paid, deadline)
        if paid not in done:
            return await give_up(ctx, order, "payment timed out")
        await paid
    except TerminalError as error:
        if error.status_code == 409 and error.message == "cancelled":
            release(ctx, order)
            ctx.set("status", "cancelled")
            raise
        return await give_up(ctx, order, f"payment rejected: {error.message}")
    return await sell(ctx, order)
