# RIGHT: waits for unreserve with a request-response call, after storing the shorter cart
from .ticket_object import unreserve


@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id not in tickets:
        return
    ctx.set("tickets", [t for t in tickets if t != ticket_id])
    await ctx.object_call(unreserve, key=ticket_id, arg=None)
