# WRONG: removes the ticket if it is there, but releases the seat in every case
# expect: expireTicket(seat-d) released a seat that is not in the cart
# hint: Act only if the cart still holds the ticket
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        tickets.remove(ticket_id)
        ctx.set("tickets", tickets)
    ctx.object_send(unreserve, key=ticket_id, arg=None)
