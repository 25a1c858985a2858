import restate
from restate import ObjectContext

cart = restate.VirtualObject("CartObject")


@cart.handler("addTicket")
async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:
    return True


@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    return True


@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    return
