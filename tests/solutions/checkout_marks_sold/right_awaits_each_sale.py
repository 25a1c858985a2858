# RIGHT: returns early when not paid, and waits for each markAsSold with a request-response call
from .ticket_object import mark_as_sold


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str])
    if not tickets:
        return False
    if not await ctx.service_call(handle, arg={"user_id": ctx.key(), "tickets": tickets}):
        return False
    for ticket_id in tickets:
        await ctx.object_call(mark_as_sold, key=ticket_id, arg=None)
    ctx.clear("tickets")
    return True
