import restate
from restate import ObjectContext

ticket = restate.VirtualObject("TicketObject")


@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    return True


@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    return


@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    return
