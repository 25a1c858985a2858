# WRONG: empties the cart even when the payment was declined, so the user cannot pay again
# expect: After a declined payment the cart holds None instead of [seat-d, seat-e]
# hint: the cart empties only once it is paid
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    paid = await ctx.service_call(handle, arg=order)
    if paid:
        for ticket_id in tickets:
            ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
    ctx.clear("tickets")
    return paid
