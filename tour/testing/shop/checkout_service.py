from typing import TypedDict

import restate
from restate import Context, RunOptions

from tour.testing import payments

checkout_service = restate.Service("CheckoutService")

TICKET_PRICE = 40


class Order(TypedDict):
    user_id: str
    tickets: list[str]


@checkout_service.handler()
async def handle(ctx: Context, order: Order) -> bool:
    total = len(order["tickets"]) * TICKET_PRICE
    idempotency_key = str(ctx.uuid())
    return await ctx.run_typed(
        "payment", payments.charge, RunOptions(type_hint=bool), idempotency_key, order["user_id"], total
    )
