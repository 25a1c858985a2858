# WRONG: waits for handle but returns the opposite of its answer
# expect: checkout returned False, but handle answered True
from .checkout_service import Order, handle


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    order: Order = {"user_id": ctx.key(), "tickets": ["seat2B"]}
    failed = await ctx.service_call(handle, arg=order)
    return not failed
