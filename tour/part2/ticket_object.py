import restate
from restate import ObjectContext

ticket = restate.VirtualObject("TicketObject")


@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    # Every seat is free for now; the state section turns this into a real state machine.
    return True


@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    return


@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    return
