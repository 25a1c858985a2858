# WRONG: only refuses seats that are RESERVED, so a SOLD seat can be reserved again
# expect: reserve on a SOLD seat returned True and left the status 'RESERVED'
# hint: a "SOLD" seat must give False
@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    status = await ctx.get("status", type_hint=str)
    if status != "RESERVED":
        ctx.set("status", "RESERVED")
        return True
    return False
