# WRONG: clears the whole cart instead of removing the one ticket that expired
# expect: emptied the whole cart; [seat-a, seat-c] were not expired and must stay
# hint: Only the ticket that expired leaves the cart
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        ctx.clear("tickets")
        ctx.object_send(unreserve, key=ticket_id, arg=None)
