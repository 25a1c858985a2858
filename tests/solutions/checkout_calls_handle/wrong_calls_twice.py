# WRONG: asks handle twice (once to look, once to return), which would charge the user twice
# expect: calls CheckoutService/handle 2 times
from .checkout_service import Order, handle


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    order: Order = {"user_id": ctx.key(), "tickets": ["seat2B"]}
    if await ctx.service_call(handle, arg=order):
        return await ctx.service_call(handle, arg=order)
    return False
