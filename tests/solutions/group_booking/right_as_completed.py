# RIGHT: collects the answers with restate.as_completed as they arrive, and rolls back with a loop
# base: tour/part7
@cart.handler("addTickets")
async def add_tickets(ctx: ObjectContext, ticket_ids: list[str]) -> bool:
    seat_of = {ctx.object_call(reserve, key=seat, arg=None): seat for seat in ticket_ids}
    reserved: list[str] = []
    async for answered in restate.as_completed(*seat_of):
        if await answered:
            reserved.append(seat_of[answered])
    if len(reserved) == len(ticket_ids):
        await keep_in_cart(ctx, [seat for seat in ticket_ids if seat in reserved])
        return True
    for seat in reserved:
        ctx.object_send(unreserve, key=seat, arg=None)
    return False
