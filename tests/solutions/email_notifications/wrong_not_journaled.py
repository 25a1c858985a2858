# WRONG: sends the e-mails directly, outside a journaled step (a retry would send them again)
# expect: not as a journaled step
# hint: must be a journaled step of its own
from restate import Context, RunOptions

from tour.auxiliary import email_client, payment_client
from tour.auxiliary.settings import TICKET_PRICE


@checkout_service.handler()
async def handle(ctx: Context, order: Order) -> bool:
    total_price = len(order["tickets"]) * TICKET_PRICE
    idempotency_key = str(ctx.uuid())
    paid = await ctx.run_typed("payment", payment_client.call, RunOptions(type_hint=bool), idempotency_key, total_price)
    if paid:
        email_client.notify_user_of_payment_success(order["user_id"])
    else:
        email_client.notify_user_of_payment_failure(order["user_id"])
    return paid
