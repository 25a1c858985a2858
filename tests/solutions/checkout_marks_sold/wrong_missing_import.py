# WRONG: uses mark_as_sold without importing it (section 04's cart_object.py does not import it)
# base: tour/part2
# expect: NameError: name 'mark_as_sold' is not defined
# hint: from .ticket_object import mark_as_sold
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
