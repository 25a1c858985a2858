# WRONG: sells every seat, reserved or not
# expect: markAsSold on a seat nobody touched changed its status to 'SOLD'
# hint: only "RESERVED" becomes "SOLD"
@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    ctx.set("status", "SOLD")
