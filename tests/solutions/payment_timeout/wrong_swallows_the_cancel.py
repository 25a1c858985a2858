# WRONG: treats every TerminalError as a rejection, so a cancelled checkout returns False as if the provider said no
# base: tour/part5
# expect: A cancel of the waiting checkout made run end with False instead of the cancel (409)
# hint: A cancel is not an answer from the provider
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
    except TerminalError as error:  # a rejection, or so it thinks
        outcome = f"payment rejected: {error.message}"

    for ticket_id in order["tickets"]:
        ctx.object_send(unreserve, key=ticket_id, arg=None)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_failure, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", outcome)
    return False
