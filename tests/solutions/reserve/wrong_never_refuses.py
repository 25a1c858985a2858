# WRONG: stores RESERVED but never looks at the status first
# expect: Reserving a RESERVED seat again returned True
@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    ctx.set("status", "RESERVED")
    return True
