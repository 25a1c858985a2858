# WRONG: forgets that a cart without state gives None, so it fails on an empty cart
# expect: expireTicket fails instead of finishing: TypeError: argument of type 'NoneType' is not iterable
# hint: or []
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str])
    if ticket_id in tickets:
        tickets.remove(ticket_id)
        ctx.set("tickets", tickets)
        ctx.object_send(unreserve, key=ticket_id, arg=None)
