import random
import uuid

import restate
from restate import Context, RunOptions

from tour.replay import payments
from tour.replay.shop import DISCOUNT_CHANCE, TICKET_PRICE, Order, Receipt, discounted

checkout = restate.Service("DiscountCheckout")


@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    payment_key = str(uuid.uuid4())
    if random.random() < DISCOUNT_CHANCE:
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), payment_key, amount)
    return {"paid": paid, "amount": amount, "payment_key": payment_key}
