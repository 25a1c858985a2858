# WRONG: takes the ticket out of the cart but never tells the TicketObject
# expect: never sent TicketObject/unreserve
# hint: the seat itself must be released too
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        tickets.remove(ticket_id)
        ctx.set("tickets", tickets)
