import restate
from restate import ObjectContext

from tour.part1.checkout_service import Order, handle
from tour.part1.ticket_object import reserve, unreserve

cart = restate.VirtualObject("CartObject")


@cart.handler("addTicket")
async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:
    return await ctx.object_call(reserve, key=ticket_id, arg=None)


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    # The cart has no memory yet: the order is hard-coded until the state section.
    order: Order = {"user_id": ctx.key(), "tickets": ["seat2B"]}
    return await ctx.service_call(handle, arg=order)


@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    ctx.object_send(unreserve, key=ticket_id, arg=None)
