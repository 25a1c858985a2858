# RIGHT: writes "AVAILABLE" back for a reserved seat instead of clearing the state
@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    if await ctx.get("status", type_hint=str) == "RESERVED":
        ctx.set("status", "AVAILABLE")
