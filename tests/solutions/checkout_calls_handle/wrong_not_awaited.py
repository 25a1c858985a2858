# WRONG: makes the call but never awaits it, and returns True whatever handle answers
# expect: does not wait for the answer of CheckoutService/handle
# hint: until it waits, it has no answer to return
from .checkout_service import Order, handle


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    order: Order = {"user_id": ctx.key(), "tickets": ["seat2B"]}
    ctx.service_call(handle, arg=order)
    return True
