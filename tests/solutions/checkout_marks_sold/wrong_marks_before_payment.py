# WRONG: sends markAsSold before the payment, whatever its outcome
# expect: checkout sends TicketObject/markAsSold before CheckoutService/handle has answered
# hint: the messages come after handle's answer
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    for ticket_id in tickets:
        ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    paid = await ctx.service_call(handle, arg=order)
    if paid:
        ctx.clear("tickets")
    return paid
