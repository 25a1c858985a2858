# WRONG: stores "sold" where the rest of the TicketObject reads "SOLD"
# expect: markAsSold on a reserved seat left the status at 'sold'
# hint: spelled exactly "AVAILABLE", "RESERVED" and "SOLD"
@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    if await ctx.get("status", type_hint=str) == "RESERVED":
        ctx.set("status", "sold")
