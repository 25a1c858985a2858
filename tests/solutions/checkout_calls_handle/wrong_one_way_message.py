# WRONG: sends handle a one-way message, so checkout never learns whether the payment worked
# expect: one-way message
# hint: a call that waits for handle's reply
from .checkout_service import Order, handle


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    order: Order = {"user_id": ctx.key(), "tickets": ["seat2B"]}
    ctx.service_send(handle, arg=order)
    return True
