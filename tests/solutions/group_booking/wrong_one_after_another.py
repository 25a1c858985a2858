# WRONG: awaits each reservation before starting the next one
# base: tour/part7
# expect: addTickets reserved the seats one after the other
# hint: no reservation needs to wait for another
@cart.handler("addTickets")
async def add_tickets(ctx: ObjectContext, ticket_ids: list[str]) -> bool:
    reserved = []
    for ticket_id in ticket_ids:
        if await ctx.object_call(reserve, key=ticket_id, arg=None):
            reserved.append(ticket_id)
    if len(reserved) < len(ticket_ids):
        for ticket_id in reserved:
            ctx.object_send(unreserve, key=ticket_id, arg=None)
        return False
    await keep_in_cart(ctx, reserved)
    return True
