# WRONG: the condition is the wrong way round: it clears SOLD seats and keeps RESERVED ones
# expect: After unreserve the status is still 'RESERVED'
@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    status = await ctx.get("status", type_hint=str) or "AVAILABLE"
    if status == "SOLD":
        ctx.clear("status")
