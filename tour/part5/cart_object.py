import restate
from restate import ObjectContext

from tour.auxiliary.settings import reservation_ttl
from tour.part5.checkout_service import Order, handle
from tour.part5.ticket_object import mark_as_sold, reserve, unreserve

cart = restate.VirtualObject("CartObject")


@cart.handler("addTicket")
async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:
    reserved = await ctx.object_call(reserve, key=ticket_id, arg=None)
    if reserved:
        tickets = await ctx.get("tickets", type_hint=list[str]) or []
        tickets.append(ticket_id)
        ctx.set("tickets", tickets)
        ctx.object_send(expire_ticket, key=ctx.key(), arg=ticket_id, send_delay=reservation_ttl())
    return reserved


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    paid = await ctx.service_call(handle, arg=order)
    if paid:
        for ticket_id in tickets:
            ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
        ctx.clear("tickets")
    return paid


@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        tickets.remove(ticket_id)
        ctx.set("tickets", tickets)
        ctx.object_send(unreserve, key=ticket_id, arg=None)
