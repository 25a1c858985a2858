# WRONG: only a seat without any status counts as free; the status "AVAILABLE" does not
# expect: reserve on a seat whose status is 'AVAILABLE' returned False
# hint: or its status is "AVAILABLE"
@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    if await ctx.get("status", type_hint=str) is None:
        ctx.set("status", "RESERVED")
        return True
    return False
