# RIGHT: builds the order with the TypedDict's constructor and keeps the answer in a variable
from .checkout_service import Order, handle


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    user = ctx.key()
    order = Order(user_id=user, tickets=["seat2B"])
    answer = await ctx.service_call(handle, arg=order)
    return answer
