import random

import restate
from restate import Context, RunOptions

from tour.replay import payments
from tour.replay.shop import DISCOUNT_CHANCE, TICKET_PRICE, Order, Receipt, discounted

checkout = restate.Service("DiscountCheckout")

random.seed(42)  # "deterministic" random numbers


@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    payment_key = str(ctx.uuid())
    if random.random() < DISCOUNT_CHANCE:
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), payment_key, amount)
    return {"paid": paid, "amount": amount, "payment_key": payment_key}
