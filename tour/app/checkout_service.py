from typing import TypedDict

import restate
from restate import Context

checkout_service = restate.Service("CheckoutService")


class Order(TypedDict):
    user_id: str
    tickets: list[str]


@checkout_service.handler()
async def handle(ctx: Context, order: Order) -> bool:
    return True
