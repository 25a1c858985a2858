# WRONG: calls the e-mail function itself and hands ctx.run_typed its result instead of the function
# expect: fails instead of finishing: TypeError: the first argument must be callable
# hint: not the result of calling it
from restate import Context, RunOptions

from tour.auxiliary import email_client, payment_client
from tour.auxiliary.settings import TICKET_PRICE


@checkout_service.handler()
async def handle(ctx: Context, order: Order) -> bool:
    total_price = len(order["tickets"]) * TICKET_PRICE
    idempotency_key = str(ctx.uuid())
    paid = await ctx.run_typed("payment", payment_client.call, RunOptions(type_hint=bool), idempotency_key, total_price)
    if paid:
        await ctx.run_typed(
            "email", email_client.notify_user_of_payment_success(order["user_id"]), RunOptions(type_hint=bool)
        )
    else:
        await ctx.run_typed(
            "email", email_client.notify_user_of_payment_failure(order["user_id"]), RunOptions(type_hint=bool)
        )
    return paid
