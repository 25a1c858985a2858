import restate
from restate import ObjectContext

from tour.auxiliary.settings import reservation_ttl
from tour.part2.checkout_service import Order, handle
from tour.part2.ticket_object import reserve, unreserve

cart = restate.VirtualObject("CartObject")


@cart.handler("addTicket")
async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:
    reserved = await ctx.object_call(reserve, key=ticket_id, arg=None)
    if reserved:
        # Release the seat if the cart is not checked out in time (15 minutes in production).
        ctx.object_send(expire_ticket, key=ctx.key(), arg=ticket_id, send_delay=reservation_ttl())
    return reserved


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    # The cart has no memory yet: the order is hard-coded until the state section.
    order: Order = {"user_id": ctx.key(), "tickets": ["seat2B"]}
    return await ctx.service_call(handle, arg=order)


@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    ctx.object_send(unreserve, key=ticket_id, arg=None)
