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
            "A one-way message (ctx.service_send) gets no answer. Use a request-response call: "
            "return await ctx.service_call(handle, arg=order).",
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
            'Build the order as {"user_id": ctx.key(), "tickets": ["seat2B"]} and pass it as arg=order.',
        )
    if order["user_id"] != cart:
        p.fail(
            f"The order's user_id is {order['user_id']!r}, but the cart that checked out has the key {cart!r}: "
            "the user is the cart's key.",
            "Inside a Virtual Object handler ctx.key() is the key it runs for: use it as the user_id.",
        )
    if order["tickets"] != ["seat2B"]:
        p.fail(
            f"The order's tickets are {p.named(order['tickets'])}; for now the exercise asks for the "
            "hard-coded list ['seat2B'] (the cart learns to remember its tickets in section 04).",
            'Use "tickets": ["seat2B"] in the order.',
        )
    p.ok("the order holds the cart's key as user_id and the tickets ['seat2B']")
    if not call.completed:
        p.fail(
            "checkout does not wait for the answer of CheckoutService/handle (the call's result never "
            "reached its journal).",
            "ctx.service_call(...) gives you something to await: return await ctx.service_call(handle, arg=order).",
        )
    answer = p.output(call)
    if result != answer:
        p.fail(
            f"checkout returned {result!r}, but handle answered {answer!r}; checkout should return that answer.",
            "return await ctx.service_call(handle, arg=order) gives back exactly what handle answered.",
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
        ("CheckoutService is a plain Service, so it has no key: use ctx.service_call, not ctx.object_call."),
        (
            "Import the handler function and the order type: from .checkout_service import Order, handle. "
            "The cart's key is ctx.key()."
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
