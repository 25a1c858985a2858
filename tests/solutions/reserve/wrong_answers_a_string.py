# WRONG: answers the new status instead of True/False
# expect: reserve on a seat nobody touched returned 'RESERVED'
@ticket.handler()
async def reserve(ctx: ObjectContext) -> str:
    status = await ctx.get("status", type_hint=str) or "AVAILABLE"
    if status == "AVAILABLE":
        ctx.set("status", "RESERVED")
        return "RESERVED"
    return status
