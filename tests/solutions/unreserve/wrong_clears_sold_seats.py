# WRONG: clears the status in every case, so an expiring reservation undoes a sale
# expect: unreserve turned a SOLD ticket into None
# hint: not "SOLD"
@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    ctx.clear("status")
