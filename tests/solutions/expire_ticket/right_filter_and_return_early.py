# RIGHT: filters the list and returns early when nothing was removed
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    held = await ctx.get("tickets", type_hint=list[str])
    remaining = [seat for seat in held or [] if seat != ticket_id]
    if len(remaining) == len(held or []):
        return
    ctx.set("tickets", remaining)
    ctx.object_send(unreserve, key=ticket_id, arg=None)
