# WRONG: calls the keyless CheckoutService with ctx.object_call and a key
# expect: a key was provided, but the callee 'CheckoutService' is a Service
# hint: a plain service: it has no key
from .checkout_service import Order, handle


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    order: Order = {"user_id": ctx.key(), "tickets": ["seat2B"]}
    return await ctx.object_call(handle, key=ctx.key(), arg=order)
