# WRONG: uses the constant AVAILABLE, which this section's ticket_object.py does not define yet
# expect: NameError: name 'AVAILABLE' is not defined
# hint: AVAILABLE = "AVAILABLE"
@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    status = await ctx.get("status", type_hint=str) or AVAILABLE
    if status == AVAILABLE:
        ctx.set("status", "RESERVED")
        return True
    return False
