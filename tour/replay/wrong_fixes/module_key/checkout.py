import uuid

import restate
from restate import Context, RunOptions

from tour.replay import payments
from tour.replay.shop import DISCOUNT_CHANCE, TICKET_PRICE, Order, Receipt, discounted

checkout = restate.Service("DiscountCheckout")

PAYMENT_KEY = str(uuid.uuid4())  # stable across replays... and across all orders


@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    if ctx.random().random() < DISCOUNT_CHANCE:
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), PAYMENT_KEY, amount)
    return {"paid": paid, "amount": amount, "payment_key": PAYMENT_KEY}
