from typing import TypedDict

import restate
from restate import ObjectContext, ObjectSharedContext, RunOptions, TerminalError

from tour.auxiliary import payment_provider
from tour.auxiliary.settings import TICKET_PRICE, payment_timeout, reservation_ttl
from tour.part7.checkout_workflow import Order, PaymentConfirmation, is_cancel, run
from tour.part7.ticket_object import mark_as_sold, reserve, unreserve

cart = restate.VirtualObject("CartObject")


class SeatChoice(TypedDict):
    candidates: list[str]
    count: int


class CartStatus(TypedDict):
    tickets: list[str]
    pending_payment: str | None


async def keep_in_cart(ctx: ObjectContext, ticket_ids: list[str]) -> None:
    """Add reserved seats to the cart and schedule their expiry."""
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    ctx.set("tickets", tickets + ticket_ids)
    for ticket_id in ticket_ids:
        ctx.object_send(expire_ticket, key=ctx.key(), arg=ticket_id, send_delay=reservation_ttl())


@cart.handler("addTicket")
async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:
    reserved = await ctx.object_call(reserve, key=ticket_id, arg=None)
    if reserved:
        await keep_in_cart(ctx, [ticket_id])
    return reserved


@cart.handler("addTickets")
async def add_tickets(ctx: ObjectContext, ticket_ids: list[str]) -> bool:
    """Reserve all seats in parallel, or none of them."""
    reservations = [ctx.object_call(reserve, key=ticket_id, arg=None) for ticket_id in ticket_ids]
    await restate.gather(*reservations)  # returns the futures, now completed, not their values
    reserved = [ticket_id for ticket_id, done in zip(ticket_ids, reservations, strict=True) if await done]
    if len(reserved) < len(ticket_ids):
        for ticket_id in reserved:
            ctx.object_send(unreserve, key=ticket_id, arg=None)
        return False
    await keep_in_cart(ctx, reserved)
    return True


@cart.handler("addAnyTickets")
async def add_any_tickets(ctx: ObjectContext, choice: SeatChoice) -> list[str]:
    """Try all candidate seats at once and keep the first `count` that could be reserved."""
    reservations = {ctx.object_call(reserve, key=seat, arg=None): seat for seat in choice["candidates"]}
    kept: list[str] = []
    async for done in restate.as_completed(*reservations):
        if not await done:
            continue
        if len(kept) < choice["count"]:
            kept.append(reservations[done])
        else:
            ctx.object_send(unreserve, key=reservations[done], arg=None)
    await keep_in_cart(ctx, kept)
    return kept


@cart.handler()
async def checkout(ctx: ObjectContext) -> str:
    """Hand the cart's seats to a new order: start its CheckoutWorkflow and answer with the order id."""
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        raise TerminalError(f"the cart of {ctx.key()} is empty", status_code=400)

    orders = (await ctx.get("orders", type_hint=int) or 0) + 1
    order_id = f"{ctx.key()}-{orders}"
    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    # A one-way start: the cart is free again at once, the order goes on without it (workflow_call
    # would hold this cart until the payment is decided).
    ctx.workflow_send(run, key=order_id, arg=order)
    ctx.set("orders", orders)
    ctx.clear("tickets")  # the order holds the seats now; their expiry timers find them gone
    return order_id


@cart.handler("checkoutWithProvider")
async def checkout_with_provider(ctx: ObjectContext) -> bool:
    """Pay through the asynchronous provider; this cart stays locked until it answers or time runs out."""
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    awakeable_id, payment = ctx.awakeable(type_hint=PaymentConfirmation)
    ctx.set("pending_payment", awakeable_id)
    amount = len(tickets) * TICKET_PRICE
    await ctx.run_typed(
        "request payment",
        payment_provider.request_payment_with_callback,
        RunOptions(type_hint=bool),
        awakeable_id,
        ctx.key(),
        amount,
    )
    try:
        winner, _ = await restate.select(paid=payment, timeout=ctx.sleep(payment_timeout()))
        paid = winner == "paid"
    except TerminalError as failure:
        if is_cancel(failure):  # not a rejection: end as cancelled, so the caller learns of it
            ctx.clear("pending_payment")
            raise
        paid = False  # the provider rejected the payment
    ctx.clear("pending_payment")
    if paid:
        for ticket_id in tickets:
            ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
        ctx.clear("tickets")
    return paid


@cart.handler(kind="shared")
async def status(ctx: ObjectSharedContext) -> CartStatus:
    """Answers even while an exclusive handler holds the cart."""
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    return {"tickets": tickets, "pending_payment": await ctx.get("pending_payment", type_hint=str)}


@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        tickets.remove(ticket_id)
        ctx.set("tickets", tickets)
        ctx.object_send(unreserve, key=ticket_id, arg=None)
