# RIGHT: both values come from journaled run steps instead of the context's seeded helpers
def new_key() -> str:
    return str(uuid.uuid4())


def lucky() -> bool:
    return random.random() < DISCOUNT_CHANCE


@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    payment_key = await ctx.run_typed("payment key", new_key, RunOptions(type_hint=str))
    if await ctx.run_typed("lucky", lucky, RunOptions(type_hint=bool)):
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), payment_key, amount)
    return {"paid": paid, "amount": amount, "payment_key": payment_key}
