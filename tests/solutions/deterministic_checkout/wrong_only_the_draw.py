# WRONG: journals the discount draw in a run step but keeps uuid4() for the payment key
# expect: was never charged
# hint: The key was made again when Restate replayed handle
def lucky_draw() -> bool:
    return random.random() < DISCOUNT_CHANCE


@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    payment_key = str(uuid.uuid4())
    if await ctx.run_typed("lucky", lucky_draw, RunOptions(type_hint=bool)):
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), payment_key, amount)
    return {"paid": paid, "amount": amount, "payment_key": payment_key}
