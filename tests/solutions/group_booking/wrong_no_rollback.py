# WRONG: gives up when a seat is taken but keeps the other seats reserved
# base: tour/part7
# expect: but it did not release
# hint: the seats this call did reserve must be free again
@cart.handler("addTickets")
async def add_tickets(ctx: ObjectContext, ticket_ids: list[str]) -> bool:
    reservations = [ctx.object_call(reserve, key=ticket_id, arg=None) for ticket_id in ticket_ids]
    await restate.gather(*reservations)
    for reservation in reservations:
        if not await reservation:
            return False
    await keep_in_cart(ctx, ticket_ids)
    return True
