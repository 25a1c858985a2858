# RIGHT: returns early for every seat that is not reserved
@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    status = await ctx.get("status", type_hint=str)
    if status != "RESERVED":
        return
    ctx.set("status", "SOLD")
