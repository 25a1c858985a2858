# WRONG: draws the payment key once, when the module is imported: stable across replays, but shared by every order
# expect: 20 orders got only 1 different payment keys
# hint: different for every order
PAYMENT_KEY = str(uuid.uuid4())


@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    if ctx.random().random() < DISCOUNT_CHANCE:
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), PAYMENT_KEY, amount)
    return {"paid": paid, "amount": amount, "payment_key": PAYMENT_KEY}
