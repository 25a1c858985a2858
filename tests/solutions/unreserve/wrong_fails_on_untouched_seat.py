# WRONG: calls a string method on the status, which is None for a seat nobody touched
# expect: TicketObject/<key>/unreserve fails instead of finishing: AttributeError
# hint: ctx.get gives None for a state key that was never set
@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    status = await ctx.get("status", type_hint=str)
    if status.upper() != "SOLD":
        ctx.clear("status")
