# WRONG: waits for the payment, but marks the tickets as sold even when it was declined
# expect: The payment was declined, yet checkout sent TicketObject/markAsSold
# hint: tell the tickets only when the payment went through
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    paid = await ctx.service_call(handle, arg=order)
    for ticket_id in tickets:
        ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
    if paid:
        ctx.clear("tickets")
    return paid
