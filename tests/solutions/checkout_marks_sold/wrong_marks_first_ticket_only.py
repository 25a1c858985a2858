# WRONG: marks only the first ticket of the cart as sold
# expect: sent markAsSold only to [seat-a]; [seat-b, seat-c] were paid for but not marked as sold
# hint: one message per ticket
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    paid = await ctx.service_call(handle, arg=order)
    if paid:
        ctx.object_send(mark_as_sold, key=tickets[0], arg=None)
        ctx.clear("tickets")
    return paid
