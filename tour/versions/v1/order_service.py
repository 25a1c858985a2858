from datetime import timedelta

import restate
from restate import Context, RunOptions

from tour.versions.settings import Order, Receipt, price_of, settle_time

# Suspend after 1 s of waiting (the default keeps the connection open for 1 min), so the
# sleeping checkout shows up as `suspended` and wakes up through its pinned deployment.
orders = restate.Service("OrderService", inactivity_timeout=timedelta(seconds=1))


@orders.handler()
async def checkout(ctx: Context, order: Order) -> Receipt:
    total = await ctx.run_typed("price", price_of, RunOptions(type_hint=int), order["tickets"])
    print(f"v1: {order['user_id']} owes {total}, waiting for the bank")
    await ctx.sleep(settle_time())
    print(f"v1: {order['user_id']} settled")
    return {"version": "v1", "total": total}
