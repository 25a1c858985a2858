# WRONG: e-mails a hard-coded user instead of the order's user
# expect: the e-mail went to 'Mary' instead of order['user_id'] ('check-user-
# hint: the order says who that is
from restate import Context, RunOptions

from tour.auxiliary import email_client, payment_client
from tour.auxiliary.settings import TICKET_PRICE


@checkout_service.handler()
async def handle(ctx: Context, order: Order) -> bool:
    total_price = len(order["tickets"]) * TICKET_PRICE
    idempotency_key = str(ctx.uuid())
    paid = await ctx.run_typed("payment", payment_client.call, RunOptions(type_hint=bool), idempotency_key, total_price)
    notify = email_client.notify_user_of_payment_success if paid else email_client.notify_user_of_payment_failure
    await ctx.run_typed("email", notify, RunOptions(type_hint=bool), "Mary")
    return paid
