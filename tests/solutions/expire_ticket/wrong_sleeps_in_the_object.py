# WRONG: sleeps inside the object to wait for the expiry (the tour warns this locks the cart)
# expect: is sleeping (ctx.sleep until
# hint: let a delayed message do the waiting
from datetime import timedelta


@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    await ctx.sleep(timedelta(minutes=15))
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        tickets.remove(ticket_id)
        ctx.set("tickets", tickets)
        ctx.object_send(unreserve, key=ticket_id, arg=None)
