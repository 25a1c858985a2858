"""Chapter 01, invoking handlers: CartObject/checkout calls CheckoutService/handle."""

from __future__ import annotations

from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import (
    Probe,
    messages,
)


def check_checkout_calls_handle(p: Probe) -> None:
    """CartObject/checkout hands an order to CheckoutService/handle (section 01).

    Checked: checkout makes exactly one request-response call (not a one-way message) to
    CheckoutService/handle and waits for its answer; the order it sends has user_id = the
    cart's key and tickets = ["seat2B"] (hard-coded for now, as the exercise says); checkout
    returns what handle answered. A failing handle ends the check at once, naming it.
    """
    cart = p.key("cart")
    result = p.invoke("CartObject", cart, "checkout")
    calls = messages(p.journal(), "CheckoutService", "handle")
    if not calls:
        p.fail("CartObject/checkout does not call CheckoutService/handle: its journal has no call entry.")
    if all(c.entry_type == "Command: OneWayCall" for c in calls):
        p.fail(
            "checkout sends CheckoutService/handle a one-way message, so it never learns whether the payment worked.",
            "A one-way message gets no answer: checkout needs a call that waits for handle's reply.",
        )
    if len(calls) > 1:
        p.fail(
            f"checkout calls CheckoutService/handle {len(calls)} times; one checkout is one order, so one call.",
            "Call handle once, keep its answer in a variable if you need it twice.",
        )
    call = calls[0]
    p.ok("checkout calls CheckoutService/handle with a request-response call")
    order = call.value
    if not isinstance(order, dict) or set(order) != {"user_id", "tickets"}:
        p.fail(
            f"checkout sent handle {p.named(order)} as the order; an Order is a dict with the keys "
            "'user_id' and 'tickets'.",
            "handle expects an Order: a dict with the user's id and the list of tickets, sent as the call's argument.",
        )
    if order["user_id"] != cart:
        p.fail(
            f"The order's user_id is {order['user_id']!r}, but the cart that checked out has the key {cart!r}: "
            "the user is the cart's key.",
            "A cart is a Virtual Object keyed by its user: the key the handler runs for is the user to charge.",
        )
    if order["tickets"] != ["seat2B"]:
        p.fail(
            f"The order's tickets are {p.named(order['tickets'])}; for now the exercise asks for the "
            "hard-coded list ['seat2B'] (the cart learns to remember its tickets in section 04).",
            "For now the order's tickets are a list that holds the one seat seat2B.",
        )
    p.ok("the order holds the cart's key as user_id and the tickets ['seat2B']")
    if not call.completed:
        p.fail(
            "checkout does not wait for the answer of CheckoutService/handle (the call's result never "
            "reached its journal).",
            "A call gives checkout something to wait for; until it waits, it has no answer to return.",
        )
    answer = p.output(call)
    if result != answer:
        p.fail(
            f"checkout returned {result!r}, but handle answered {answer!r}; checkout should return that answer.",
            "checkout passes on handle's answer unchanged: it is the payment's outcome.",
        )
    p.ok("checkout waits for handle and returns its answer")


CHECKOUT_CALLS_HANDLE = Exercise(
    id="checkout_calls_handle",
    section="01",
    title="CartObject/checkout calls CheckoutService/handle",
    file="cart_object.py",
    functions=("checkout",),
    start_from="tour/app",
    solution_from="tour/part1",
    skeleton="""\
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    # TODO: hand an order for this cart to CheckoutService/handle and return its answer.
    #   The order is {"user_id": <this cart's key>, "tickets": ["seat2B"]} for now.
    return True
""",
    hints=(
        (
            "The cart hands one order to the checkout and needs its answer, so it calls it and waits for "
            "the reply. CheckoutService is a plain service: it has no key, unlike the cart."
        ),
        (
            "ctx.service_call(handle, arg=order) calls a Service's handler (ctx.object_call is for Virtual "
            "Objects, with a key); await it for the answer. ctx.key() is the cart's key. Import the handler "
            "and the order type: from .checkout_service import Order, handle."
        ),
        (
            'Build order = {"user_id": ctx.key(), "tickets": ["seat2B"]} and '
            "return await ctx.service_call(handle, arg=order)."
        ),
    ),
    check=check_checkout_calls_handle,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (CHECKOUT_CALLS_HANDLE,)
