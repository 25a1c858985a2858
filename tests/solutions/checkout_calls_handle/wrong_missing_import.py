# WRONG: uses handle without importing it (NameError when checkout runs)
# expect: NameError: name 'handle' is not defined
# hint: from .checkout_service import handle
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    return await ctx.service_call(handle, arg={"user_id": ctx.key(), "tickets": ["seat2B"]})
