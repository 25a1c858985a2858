import restate
from restate import ObjectContext

# Only the shop changes a seat: the cart reserves it, the cart or the checkout releases or sells it.
# ingress_private keeps these handlers off Restate's HTTP ingress; calls from handlers still work.
ticket = restate.VirtualObject("TicketObject", ingress_private=True)

AVAILABLE = "AVAILABLE"
RESERVED = "RESERVED"
SOLD = "SOLD"


@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    status = await ctx.get("status", type_hint=str) or AVAILABLE
    if status == AVAILABLE:
        ctx.set("status", RESERVED)
        return True
    return False


@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    status = await ctx.get("status", type_hint=str) or AVAILABLE
    if status != SOLD:
        ctx.clear("status")


@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    status = await ctx.get("status", type_hint=str) or AVAILABLE
    if status == RESERVED:
        ctx.set("status", SOLD)
