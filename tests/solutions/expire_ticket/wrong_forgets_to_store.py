# WRONG: removes the ticket from its local copy of the list but never stores the list again
# expect: After expireTicket the ticket is still in the cart
# hint: changes only when the handler stores the list again
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        tickets.remove(ticket_id)
        ctx.object_send(unreserve, key=ticket_id, arg=None)
