# WRONG: takes what gather returns (the futures) for the answers; a future is always true
# base: tour/part7
# expect: yet addTickets returned True
# hint: look at what each reservation answered
@cart.handler("addTickets")
async def add_tickets(ctx: ObjectContext, ticket_ids: list[str]) -> bool:
    answers = await restate.gather(*[ctx.object_call(reserve, key=t, arg=None) for t in ticket_ids])
    if all(answers):
        await keep_in_cart(ctx, ticket_ids)
        return True
    for ticket_id, answer in zip(ticket_ids, answers, strict=True):
        if answer:
            ctx.object_send(unreserve, key=ticket_id, arg=None)
    return False
