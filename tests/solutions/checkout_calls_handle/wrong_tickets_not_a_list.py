# WRONG: tickets is the string "seat2B", not a list holding it
# expect: The order's tickets are 'seat2B'
# hint: a list that holds the one seat seat2B
from .checkout_service import Order, handle


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    order = {"user_id": ctx.key(), "tickets": "seat2B"}
    return await ctx.service_call(handle, arg=order)
