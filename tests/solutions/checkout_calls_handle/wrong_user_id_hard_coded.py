# WRONG: the order is always for Mary, whichever cart checks out
# expect: The order's user_id is 'Mary', but the cart that checked out has the key 'check-cart-
# hint: the key the handler runs for is the user
from .checkout_service import Order, handle


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    order: Order = {"user_id": "Mary", "tickets": ["seat2B"]}
    return await ctx.service_call(handle, arg=order)
