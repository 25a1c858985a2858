from datetime import timedelta

import restate
from restate import ObjectContext, ObjectSharedContext

from tour.testing.shop.checkout_service import Order, handle
from tour.testing.shop.ticket_object import mark_as_sold, reserve, unreserve

cart = restate.VirtualObject("CartObject")

RESERVATION = timedelta(minutes=15)


@cart.handler("addTicket")
async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:
    reserved = await ctx.object_call(reserve, key=ticket_id, arg=None)
    if reserved:
        tickets = await ctx.get("tickets", type_hint=list[str]) or []
        ctx.set("tickets", [*tickets, ticket_id])
        ctx.object_send(expire_ticket, key=ctx.key(), arg=ticket_id, send_delay=RESERVATION)
    return reserved


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False
    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    paid = await ctx.service_call(handle, arg=order)
    for ticket_id in tickets:
        ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
    ctx.clear("tickets")
    return paid


@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        ctx.set("tickets", [t for t in tickets if t != ticket_id])
        ctx.object_send(unreserve, key=ticket_id, arg=None)


@cart.handler("tickets", kind="shared")
async def cart_tickets(ctx: ObjectSharedContext) -> list[str]:
    """The seats in the cart, readable while another handler runs on the same cart."""
    return await ctx.get("tickets", type_hint=list[str]) or []
