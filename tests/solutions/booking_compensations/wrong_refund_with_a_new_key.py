# WRONG: gives the refund a fresh idempotency key, so the provider finds nothing to refund
# base: tour/part6
# expect: the charge was not refunded
# hint: refund with that same key
from collections.abc import Awaitable, Callable


@booking_service.handler()
async def book(ctx: Context, order: Order) -> bool:
    compensations: list[Callable[[], Awaitable[object]]] = []
    try:
        for seat in order["tickets"]:
            if not await ctx.object_call(reserve, key=seat, arg=None):
                raise TerminalError(f"seat {seat} is taken", status_code=409)
            compensations.append(lambda seat=seat: ctx.object_call(unreserve, key=seat, arg=None))

        payment_key = str(ctx.uuid())
        compensations.append(
            lambda: ctx.run_typed("refund", payment_client.refund, RunOptions(type_hint=bool), str(ctx.uuid()))
        )
        amount = len(order["tickets"]) * TICKET_PRICE
        charge_options = RunOptions(type_hint=bool, max_attempts=3, initial_retry_interval=timedelta(seconds=1))
        await ctx.run_typed("charge", charge_card, charge_options, payment_key, order["user_id"], amount)

        send_options = RunOptions(type_hint=bool, max_attempts=3)
        await ctx.run_typed("send tickets", email_client.send_tickets, send_options, order["user_id"], order["tickets"])
    except TerminalError:
        for compensate in reversed(compensations):
            await compensate()
        raise

    for seat in order["tickets"]:
        ctx.object_send(mark_as_sold, key=seat, arg=None)
    return True
