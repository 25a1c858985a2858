import restate
from restate import ObjectContext, ObjectSharedContext

ticket = restate.VirtualObject("TicketObject")

AVAILABLE, RESERVED, SOLD = "AVAILABLE", "RESERVED", "SOLD"


@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    if (await ctx.get("status", type_hint=str) or AVAILABLE) == AVAILABLE:
        ctx.set("status", RESERVED)
        return True
    return False


@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    if (await ctx.get("status", type_hint=str) or AVAILABLE) != SOLD:
        ctx.clear("status")


@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    if (await ctx.get("status", type_hint=str) or AVAILABLE) == RESERVED:
        ctx.set("status", SOLD)


@ticket.handler(kind="shared")
async def status(ctx: ObjectSharedContext) -> str:
    """The seat's status, readable while another handler runs on the same seat."""
    return await ctx.get("status", type_hint=str) or AVAILABLE
