# WRONG: releases every seat of the cart, not just the one that expired
# expect: also sent unreserve to [seat-a, seat-c]
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        for seat in tickets:
            ctx.object_send(unreserve, key=seat, arg=None)
        tickets.remove(ticket_id)
        ctx.set("tickets", tickets)
