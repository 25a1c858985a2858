import random
import uuid

import restate
from restate import Context, RunOptions

from tour.replay import payments
from tour.replay.shop import DISCOUNT_CHANCE, TICKET_PRICE, Order, Receipt, discounted

checkout = restate.Service("DiscountCheckout")


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
