# WRONG: derives the payment key from the user: stable across replays, but the same for all orders of a user
# expect: 20 orders got only 3 different payment keys
@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    payment_key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"checkout/{order['user_id']}"))
    if ctx.random().random() < DISCOUNT_CHANCE:
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), payment_key, amount)
    return {"paid": paid, "amount": amount, "payment_key": payment_key}
