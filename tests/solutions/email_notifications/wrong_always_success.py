# WRONG: always announces success, even when the payment was declined
# expect: the user received ['payment succeeded']; expected one 'payment failed' e-mail
# hint: depends on the payment's outcome
from restate import Context, RunOptions

from tour.auxiliary import email_client, payment_client
from tour.auxiliary.settings import TICKET_PRICE


@checkout_service.handler()
async def handle(ctx: Context, order: Order) -> bool:
    total_price = len(order["tickets"]) * TICKET_PRICE
    idempotency_key = str(ctx.uuid())
    paid = await ctx.run_typed("payment", payment_client.call, RunOptions(type_hint=bool), idempotency_key, total_price)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
    )
    return paid
