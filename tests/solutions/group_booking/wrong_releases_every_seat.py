# WRONG: on failure releases every seat of the group, also the one another cart holds
# base: tour/part7
# expect: addTickets released the seat that was taken
# hint: Release only the seats whose reserve answered True
@cart.handler("addTickets")
async def add_tickets(ctx: ObjectContext, ticket_ids: list[str]) -> bool:
    reservations = [ctx.object_call(reserve, key=ticket_id, arg=None) for ticket_id in ticket_ids]
    await restate.gather(*reservations)
    if all([await reservation for reservation in reservations]):
        await keep_in_cart(ctx, ticket_ids)
        return True
    for ticket_id in ticket_ids:
        ctx.object_send(unreserve, key=ticket_id, arg=None)
    return False
