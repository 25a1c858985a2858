# WRONG: "un-reserves" by writing the status back to RESERVED for any seat that is not sold
# expect: After unreserve the status is still 'RESERVED'
@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    if await ctx.get("status", type_hint=str) != "SOLD":
        ctx.set("status", "RESERVED")
