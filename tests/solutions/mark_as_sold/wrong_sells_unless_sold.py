# WRONG: sells any seat that is not sold yet, also one nobody reserved
# expect: markAsSold on a seat nobody touched changed its status to 'SOLD'
@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    if await ctx.get("status", type_hint=str) != "SOLD":
        ctx.set("status", "SOLD")
