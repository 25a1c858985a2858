from datetime import timedelta

import restate
from restate import Context, RunOptions

from tour.versions.settings import Order, Receipt, price_of, settle_time

# Suspend after 1 s of waiting (the default keeps the connection open for 1 min), so the
# sleeping checkout shows up as `suspended` and wakes up through its pinned deployment.
orders = restate.Service("OrderService", inactivity_timeout=timedelta(seconds=1))


def loyalty_discount(total: int) -> int:
    """10% off every order."""
    return total * 9 // 10


@orders.handler()
async def checkout(ctx: Context, order: Order) -> Receipt:
    total = await ctx.run_typed("price", price_of, RunOptions(type_hint=int), order["tickets"])
    # New in v2: a step inserted before the wait. Harmless for new invocations; an invocation
    # that started on v1 and replays on this code meets a Sleep where it expects this Run.
    total = await ctx.run_typed("discount", loyalty_discount, RunOptions(type_hint=int), total)
    print(f"v2: {order['user_id']} owes {total}, waiting for the bank")
    await ctx.sleep(settle_time())
    print(f"v2: {order['user_id']} settled")
    return {"version": "v2", "total": total}
