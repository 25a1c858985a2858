# WRONG: treats any stored status as reserved, so a seat set back to "AVAILABLE" gets sold
# expect: markAsSold on a seat whose status is 'AVAILABLE' changed its status to 'SOLD'
@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    if await ctx.get("status", type_hint=str) is not None:
        ctx.set("status", "SOLD")
