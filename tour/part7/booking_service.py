"""A booking as a saga: when a step fails for good, undo the steps that succeeded, newest first."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

import restate
from restate import Context, InvocationRetryPolicy, RunOptions, TerminalError

from tour.auxiliary import email_client, payment_client
from tour.auxiliary.settings import TICKET_PRICE
from tour.part7.checkout_service import Order
from tour.part7.ticket_object import mark_as_sold, reserve, unreserve

# Compensations must not give up: retry quickly, and after 8 attempts (counted over the whole
# invocation) pause it for a human to fix the cause and resume it.
booking_service = restate.Service(
    "BookingService",
    invocation_retry_policy=InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=100),
        max_interval=timedelta(seconds=1),
        max_attempts=8,
        on_max_attempts="pause",
    ),
)


async def charge_card(idempotency_key: str, user_id: str, amount: int) -> bool:
    """Charge through the provider; a declined card will stay declined, so it is a TerminalError."""
    try:
        return await payment_client.charge(idempotency_key, user_id, amount)
    except payment_client.CardDeclinedError as declined:
        raise TerminalError(str(declined), status_code=402) from declined


@booking_service.handler()
async def book(ctx: Context, order: Order) -> bool:
    """Reserve, charge, send the tickets; on a terminal failure or a cancel, undo what succeeded."""
    compensations: list[Callable[[], Awaitable[object]]] = []
    try:
        for seat in order["tickets"]:
            if not await ctx.object_call(reserve, key=seat, arg=None):
                raise TerminalError(f"seat {seat} is taken", status_code=409)
            # Release only what we reserved: this compensation goes in after the reservation.
            compensations.append(lambda seat=seat: ctx.object_call(unreserve, key=seat, arg=None))

        # A charge can go through even when its step fails (a timeout): the refund goes in first.
        payment_key = str(ctx.uuid())
        compensations.append(
            lambda: ctx.run_typed("refund", payment_client.refund, RunOptions(type_hint=bool), payment_key)
        )
        amount = len(order["tickets"]) * TICKET_PRICE
        charge_options = RunOptions(type_hint=bool, max_attempts=3, initial_retry_interval=timedelta(seconds=1))
        await ctx.run_typed("charge", charge_card, charge_options, payment_key, order["user_id"], amount)

        send_options = RunOptions(type_hint=bool, max_attempts=3)
        await ctx.run_typed("send tickets", email_client.send_tickets, send_options, order["user_id"], order["tickets"])
    except TerminalError:
        for compensate in reversed(compensations):
            await compensate()
        raise

    for seat in order["tickets"]:
        ctx.object_send(mark_as_sold, key=seat, arg=None)
    return True
