# RIGHT: a match statement over the stored status
@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    match await ctx.get("status", type_hint=str):
        case None | "AVAILABLE":
            ctx.set("status", "RESERVED")
            return True
        case _:
            return False
