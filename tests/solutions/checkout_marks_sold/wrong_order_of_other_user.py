# WRONG: marks the tickets as sold but sends handle an order with a made-up user and no tickets
# expect: sent handle the order {'user_id': 'Mary', 'tickets': []}
# hint: holds exactly the tickets the cart holds
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    paid = await ctx.service_call(handle, arg={"user_id": "Mary", "tickets": []})
    if paid:
        for ticket_id in tickets:
            ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
        ctx.clear("tickets")
    return paid
