# RIGHT: an explicit stack of what to undo, popped newest first, instead of lambdas
# base: tour/part6
async def undo(ctx: Context, what: str, key: str) -> None:
    if what == "seat":
        await ctx.object_call(unreserve, key=key, arg=None)
    else:
        await ctx.run_typed("refund", payment_client.refund, RunOptions(type_hint=bool), key)


@booking_service.handler()
async def book(ctx: Context, order: Order) -> bool:
    done: list[tuple[str, str]] = []
    try:
        for seat in order["tickets"]:
            if not await ctx.object_call(reserve, key=seat, arg=None):
                raise TerminalError(f"seat {seat} is taken", status_code=409)
            done.append(("seat", seat))

        payment_key = str(ctx.uuid())
        done.append(("payment", payment_key))
        amount = len(order["tickets"]) * TICKET_PRICE
        charge_options = RunOptions(type_hint=bool, max_attempts=3, initial_retry_interval=timedelta(seconds=1))
        await ctx.run_typed("charge", charge_card, charge_options, payment_key, order["user_id"], amount)

        send_options = RunOptions(type_hint=bool, max_attempts=3)
        await ctx.run_typed("send tickets", email_client.send_tickets, send_options, order["user_id"], order["tickets"])
    except TerminalError:
        while done:
            what, key = done.pop()
            await undo(ctx, what, key)
        raise

    for seat in order["tickets"]:
        ctx.object_send(mark_as_sold, key=seat, arg=None)
    return True
