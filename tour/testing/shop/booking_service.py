from collections.abc import Awaitable, Callable

import restate
from restate import Context, RunOptions, TerminalError

from tour.testing import mail, payments
from tour.testing.shop.checkout_service import TICKET_PRICE, Order
from tour.testing.shop.ticket_object import mark_as_sold, reserve, unreserve

booking_service = restate.Service("BookingService")


@booking_service.handler()
async def book(ctx: Context, order: Order) -> bool:
    """Reserve the seats, charge the card, mail the tickets; if a step fails for good, undo the done ones."""
    user, tickets = order["user_id"], order["tickets"]
    undo: list[Callable[[], Awaitable[None]]] = []
    try:
        for seat in tickets:
            if not await ctx.object_call(reserve, key=seat, arg=None):
                raise TerminalError(f"{seat} is taken", status_code=409)
            undo.append(lambda seat=seat: ctx.object_call(unreserve, key=seat, arg=None))

        total, key = len(tickets) * TICKET_PRICE, str(ctx.uuid())
        paid = await ctx.run_typed("charge", payments.charge, RunOptions(type_hint=bool), key, user, total)
        if not paid:
            raise TerminalError(f"card of {user} declined", status_code=402)
        undo.append(lambda: ctx.run_typed("refund", payments.refund, RunOptions(type_hint=None), key, user, total))

        await ctx.run_typed("mail tickets", mail.send_tickets, RunOptions(type_hint=None), user, tickets)
    except TerminalError:
        for step in reversed(undo):
            await step()
        raise
    for seat in tickets:
        ctx.object_send(mark_as_sold, key=seat, arg=None)
    return True
