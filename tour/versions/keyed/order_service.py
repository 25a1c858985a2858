import restate
from restate import ObjectContext, RunOptions

from tour.versions.settings import Order, Receipt, price_of

# Same name, another kind of service: one checkout at a time per user (the key).
orders = restate.VirtualObject("OrderService")


@orders.handler()
async def checkout(ctx: ObjectContext, order: Order) -> Receipt:
    total = await ctx.run_typed("price", price_of, RunOptions(type_hint=int), order["tickets"])
    return {"version": "keyed", "total": total}
