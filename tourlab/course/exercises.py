"""The course's exercises: the starting code, layered hints and the reference solution of each.

Solutions are not copied here: they are cut out of the reference checkpoint (``tour/partN``)
so that the course and the reference app can never disagree.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tourlab import PROJECT_ROOT, LabError
from tourlab.course import edit
from tourlab.course.workspace import package_of, relative_imports


@dataclass(frozen=True)
class Exercise:
    """One "Try it out" task of a section."""

    id: str
    section: str
    title: str
    file: str
    functions: tuple[str, ...]
    solution_from: str
    skeleton: str
    hints: tuple[str, ...]

    @property
    def solution(self) -> str:
        """The reference code for this exercise, as a cell for ``%%handler``."""
        return extract(PROJECT_ROOT / self.solution_from / self.file, self.functions)


def _used_names(nodes: list[ast.stmt]) -> set[str]:
    used: set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                used.add(sub.id)
    return used


def extract(path: Path, functions: tuple[str, ...]) -> str:
    """The named functions of a module plus the imports and constants they use, as one cell."""
    text = path.read_text()
    tree = ast.parse(text)
    package = package_of(str(path.parent.relative_to(PROJECT_ROOT)))
    lines = text.splitlines(keepends=True)
    wanted = [n for n in tree.body if edit.definition_name(n) in functions]
    used = _used_names(wanted)
    imports: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names = [a for a in node.names if (a.asname or a.name) in used]
            if names and not (node.module == "restate" and node.level == 0 and _only_types(names)):
                merged = ast.ImportFrom(module=node.module, names=names, level=node.level)
                imports.append(relative_imports(ast.unparse(merged), package))
        elif isinstance(node, ast.Import) and any((a.asname or a.name) in used for a in node.names):
            imports.append(ast.unparse(node))
    constants = [
        "".join(lines[n.lineno - 1 : n.end_lineno])
        for n in tree.body
        if isinstance(n, ast.Assign | ast.AnnAssign)
        and edit.definition_name(n) in used
        and edit.definition_name(n) not in functions
        and not _is_service_object(n)
    ]
    bodies = [edit.definitions(text)[edit.definition_name(n) or ""] for n in wanted]
    parts = []
    if imports:
        parts.append("\n".join(imports) + "\n")
    if constants:
        parts.append("".join(constants))
    parts.append("\n\n".join(bodies))
    return "\n\n".join(p.strip("\n") + "\n" for p in parts)


def _only_types(names: list[ast.alias]) -> bool:
    # The context classes are imported at the top of every module already.
    return all(a.name in {"Context", "ObjectContext"} for a in names)


def _is_service_object(node: ast.stmt) -> bool:
    value = getattr(node, "value", None)
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr
        in {
            "Service",
            "VirtualObject",
            "Workflow",
        }
    )


EXERCISES: dict[str, Exercise] = {}


def _add(exercise: Exercise) -> None:
    EXERCISES[exercise.id] = exercise


_add(
    Exercise(
        id="checkout_calls_handle",
        section="01",
        title="CartObject/checkout calls CheckoutService/handle",
        file="cart_object.py",
        functions=("checkout",),
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
    )
)

_add(
    Exercise(
        id="expire_ticket",
        section="04",
        title="CartObject/expireTicket releases only tickets still in the cart",
        file="cart_object.py",
        functions=("expire_ticket",),
        solution_from="tour/part3",
        skeleton="""\
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    # TODO: release the seat only if it is still in this cart: read "tickets"; if ticket_id
    #   is there, take it out, store the list again and send TicketObject/unreserve.
    ctx.object_send(unreserve, key=ticket_id, arg=None)
""",
        hints=(
            'Read the cart the same way addTicket does: await ctx.get("tickets", type_hint=list[str]) or [].',
            "Everything happens inside one if ticket_id in tickets: block; outside it the handler does nothing.",
            (
                'Inside the block: tickets.remove(ticket_id); ctx.set("tickets", tickets); '
                "ctx.object_send(unreserve, key=ticket_id, arg=None)."
            ),
        ),
    )
)

_add(
    Exercise(
        id="reserve",
        section="04",
        title="TicketObject/reserve: AVAILABLE -> RESERVED",
        file="ticket_object.py",
        functions=("reserve",),
        solution_from="tour/part3",
        skeleton="""\
@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    # TODO: read "status" (no value means "AVAILABLE"). If the seat is available, set the
    #   status to "RESERVED" and return True; in every other case return False.
    return True
""",
        hints=(
            'A ticket that was never touched has no "status" at all: treat None as "AVAILABLE".',
            'status = await ctx.get("status", type_hint=str) or "AVAILABLE"',
            'if status == "AVAILABLE": ctx.set("status", "RESERVED"); return True  - otherwise return False.',
        ),
    )
)

_add(
    Exercise(
        id="unreserve",
        section="04",
        title="TicketObject/unreserve: back to AVAILABLE unless SOLD",
        file="ticket_object.py",
        functions=("unreserve",),
        solution_from="tour/part3",
        skeleton="""\
@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    # TODO: clear "status" so the seat is available again, unless the ticket is "SOLD".
    return
""",
        hints=(
            "Clearing a state key (ctx.clear) makes the seat look untouched, which reserve reads as AVAILABLE.",
            'Read the status first: status = await ctx.get("status", type_hint=str) or "AVAILABLE".',
            'if status != "SOLD": ctx.clear("status")',
        ),
    )
)

_add(
    Exercise(
        id="mark_as_sold",
        section="04",
        title="TicketObject/markAsSold: RESERVED -> SOLD",
        file="ticket_object.py",
        functions=("mark_as_sold",),
        solution_from="tour/part3",
        skeleton="""\
@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    # TODO: a RESERVED ticket becomes "SOLD"; any other ticket stays as it is.
    return
""",
        hints=(
            "Only a reserved seat can be sold: look at the status before changing it.",
            'status = await ctx.get("status", type_hint=str) or "AVAILABLE"',
            'if status == "RESERVED": ctx.set("status", "SOLD")',
        ),
    )
)

_add(
    Exercise(
        id="email_notifications",
        section="05",
        title="CheckoutService/handle e-mails the outcome of the payment",
        file="checkout_service.py",
        functions=("handle",),
        solution_from="tour/part4",
        skeleton="""\
from restate import Context, RunOptions

from tour.auxiliary import email_client, payment_client
from tour.auxiliary.settings import TICKET_PRICE


@checkout_service.handler()
async def handle(ctx: Context, order: Order) -> bool:
    total_price = len(order["tickets"]) * TICKET_PRICE
    idempotency_key = str(ctx.uuid())
    paid = await ctx.run_typed(
        "payment", payment_client.call, RunOptions(type_hint=bool), idempotency_key, total_price
    )
    # TODO: e-mail the user about the outcome, in a journaled step of its own:
    #   paid     -> email_client.notify_user_of_payment_success(order["user_id"])
    #   not paid -> email_client.notify_user_of_payment_failure(order["user_id"])
    return paid
""",
        hints=(
            (
                "Sending an e-mail talks to the outside world, so it belongs in a ctx.run step, "
                "just like the payment: then a retry never sends it twice."
            ),
            "Choose the function with if paid: ... else: ...; both take order['user_id'] and return a bool.",
            (
                'await ctx.run_typed("email", email_client.notify_user_of_payment_success, '
                'RunOptions(type_hint=bool), order["user_id"])  - and the same with ..._failure in the else branch.'
            ),
        ),
    )
)

_add(
    Exercise(
        id="checkout_marks_sold",
        section="05",
        title="CartObject/checkout marks every paid ticket as sold",
        file="cart_object.py",
        functions=("checkout",),
        solution_from="tour/part4",
        skeleton="""\
@cart.handler()
async def checkout(ctx: ObjectContext) -> bool:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if not tickets:
        return False

    order: Order = {"user_id": ctx.key(), "tickets": tickets}
    paid = await ctx.service_call(handle, arg=order)
    if paid:
        # TODO: tell the TicketObject of every ticket in the order that it is sold
        #   (TicketObject/markAsSold); the cart does not need to wait for the answers.
        ctx.clear("tickets")
    return paid
""",
        hints=(
            "Each ticket is its own TicketObject, keyed by the ticket id: one message per ticket.",
            "Nobody waits for the answer, so this is a one-way message: ctx.object_send, inside a for loop.",
            (
                "for ticket_id in tickets: ctx.object_send(mark_as_sold, key=ticket_id, arg=None)  - "
                "and import mark_as_sold from .ticket_object."
            ),
        ),
    )
)

# -- Beyond the tour ------------------------------------------------------------------------------

_add(
    Exercise(
        id="confirm_payment",
        section="08",
        title="CheckoutWorkflow/confirmPayment completes the promise run waits for",
        file="checkout_workflow.py",
        functions=("confirm_payment",),
        solution_from="tour/part5",
        skeleton="""\
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    # TODO: hand the provider's confirmation to run, which waits for the durable promise
    #   "payment": complete that promise with the confirmation (and do not wait for it here).
    return
""",
        hints=(
            (
                'A shared handler can complete the workflow\'s promises: ctx.promise("payment") gives the same '
                "promise that run waits for, as long as the name is the same."
            ),
            (
                "A promise has .value() (wait for it: that is run's part), .peek() (look without waiting) and "
                ".resolve(value) (complete it: that is this handler's part)."
            ),
            'await ctx.promise("payment", type_hint=PaymentConfirmation).resolve(confirmation)',
        ),
    )
)

_add(
    Exercise(
        id="payment_timeout",
        section="08",
        title="CheckoutWorkflow/run stops waiting when the payment timeout fires",
        file="checkout_workflow.py",
        functions=("run",),
        solution_from="tour/part5",
        skeleton="""\
from tour.auxiliary.settings import TICKET_PRICE, payment_timeout

from .ticket_object import mark_as_sold, unreserve


@checkout_workflow.main()
async def run(ctx: WorkflowContext, order: Order) -> bool:
    amount = len(order["tickets"]) * TICKET_PRICE
    ctx.set("status", "waiting for payment")
    await ctx.run_typed(
        "request payment",
        payment_provider.request_payment,
        RunOptions(type_hint=bool),
        ctx.key(),
        order["user_id"],
        amount,
    )

    payment = ctx.promise("payment", type_hint=PaymentConfirmation)
    # TODO: do not wait for ever. Race the payment against a durable timer of payment_timeout()
    #   (restate.select with ctx.sleep). If the timer wins: send TicketObject/unreserve for every
    #   seat, e-mail email_client.notify_user_of_payment_failure, set "status" to
    #   "payment timed out" and return False.
    await payment.value()
    for ticket_id in order["tickets"]:
        ctx.object_send(mark_as_sold, key=ticket_id, arg=None)
    await ctx.run_typed(
        "email", email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]
    )
    ctx.set("status", "paid")
    return True
""",
        hints=(
            (
                "restate.select(paid=..., timeout=...) waits for whichever of two durable futures completes "
                "first: the promise's payment.value() and the timer ctx.sleep(payment_timeout())."
            ),
            (
                'select answers a list [name, value], e.g. ["timeout", None]. A non-empty list is always true, '
                'so compare the name: match await restate.select(...): case ["paid", _]: ... case _: ...'
            ),
            (
                'In the timeout branch: for ticket_id in order["tickets"]: ctx.object_send(unreserve, '
                'key=ticket_id, arg=None); the failure e-mail as a ctx.run_typed step; ctx.set("status", '
                '"payment timed out"); return False.'
            ),
        ),
    )
)

_add(
    Exercise(
        id="booking_compensations",
        section="09",
        title="BookingService/book undoes what it did when a step fails for good",
        file="booking_service.py",
        functions=("book",),
        solution_from="tour/part6",
        skeleton="""\
from tour.auxiliary import email_client, payment_client

from .ticket_object import mark_as_sold, reserve, unreserve


@booking_service.handler()
async def book(ctx: Context, order: Order) -> bool:
    # TODO: make this a saga. Right after a step succeeds (or, for the charge, right before it),
    #   remember how to undo it: TicketObject/unreserve for a reserved seat, a journaled
    #   payment_client.refund(payment_key) for the charge. When a step fails for good
    #   (TerminalError; a cancel arrives as one too), undo what was done, newest first,
    #   then raise the error again.
    for seat in order["tickets"]:
        if not await ctx.object_call(reserve, key=seat, arg=None):
            raise TerminalError(f"seat {seat} is taken", status_code=409)

    payment_key = str(ctx.uuid())
    amount = len(order["tickets"]) * TICKET_PRICE
    charge_options = RunOptions(type_hint=bool, max_attempts=3, initial_retry_interval=timedelta(seconds=1))
    await ctx.run_typed("charge", charge_card, charge_options, payment_key, order["user_id"], amount)

    send_options = RunOptions(type_hint=bool, max_attempts=3)
    await ctx.run_typed("send tickets", email_client.send_tickets, send_options, order["user_id"], order["tickets"])

    for seat in order["tickets"]:
        ctx.object_send(mark_as_sold, key=seat, arg=None)
    return True
""",
        hints=(
            (
                "Keep a list of undo actions. Wrap the steps in try: ... except TerminalError: run the list "
                "backwards, then raise. A seat that was never reserved must not be released."
            ),
            (
                "An undo action can be a lambda that starts the step when called: lambda seat=seat: "
                'ctx.object_call(unreserve, key=seat, arg=None), and lambda: ctx.run_typed("refund", '
                "payment_client.refund, RunOptions(type_hint=bool), payment_key)."
            ),
            (
                "except TerminalError: for undo in reversed(compensations): await undo()  - then a bare raise, "
                "so the caller (and Restate) see the booking fail."
            ),
        ),
    )
)

_add(
    Exercise(
        id="group_booking",
        section="10",
        title="CartObject/addTickets reserves a group of seats at once, or none of them",
        file="cart_object.py",
        functions=("add_tickets",),
        solution_from="tour/part7",
        skeleton="""\
@cart.handler("addTickets")
async def add_tickets(ctx: ObjectContext, ticket_ids: list[str]) -> bool:
    # TODO: start one TicketObject/reserve call per seat without awaiting it, then wait for all
    #   of them together (restate.gather). If every seat was reserved, keep them all in the cart
    #   (keep_in_cart) and return True. Otherwise release the seats you did get
    #   (TicketObject/unreserve), keep nothing and return False.
    return False
""",
        hints=(
            (
                "ctx.object_call(...) without await gives a durable future: build a list of them first, so all "
                "the reservations are on their way at once, then await restate.gather(*futures)."
            ),
            (
                "restate.gather returns the futures, not their results; await each one again (it is done "
                "already) to get its True or False."
            ),
            (
                "reserved = [seat for seat, f in zip(ticket_ids, futures) if await f]; if some are missing: "
                "ctx.object_send(unreserve, key=seat, arg=None) for each reserved seat and return False; "
                "else await keep_in_cart(ctx, reserved) and return True."
            ),
        ),
    )
)

_add(
    Exercise(
        id="deterministic_checkout",
        section="11",
        title="DiscountCheckout/handle takes the same path on every attempt",
        file="checkout.py",
        functions=("handle",),
        solution_from="tour/replay/solution",
        skeleton="""\
import random
import uuid


@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    # TODO: this handler is not deterministic. Find what changes from one attempt to the next
    #   and make it the same on every attempt of one order (and different between orders).
    payment_key = str(uuid.uuid4())
    if random.random() < DISCOUNT_CHANCE:
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), payment_key, amount)
    return {"paid": paid, "amount": amount, "payment_key": payment_key}
""",
        hints=(
            (
                "Every value made outside the context is made again on each replay: look for calls that give a "
                "new value each time they run, and for branches that depend on them."
            ),
            (
                "uuid.uuid4() and random.random() are the culprits. The context has versions seeded by the "
                "invocation id: the same on every attempt, different for every order."
            ),
            "payment_key = str(ctx.uuid())  and  if ctx.random().random() < DISCOUNT_CHANCE: ...",
        ),
    )
)

_add(
    Exercise(
        id="catch_double_booking",
        section="13",
        title="test_shop.py passes on the shop and catches both planted bugs",
        file="test_shop.py",
        functions=("test_a_reserved_seat_cannot_go_into_another_cart",),
        solution_from="tour/testing/solution",
        skeleton="""\
async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    # TODO: John tries to add the same seat. Assert what must (and must not) happen for him.
""",
        hints=(
            (
                "In the buggy shop addTicket still answers False to John: a test that only looks at that answer "
                "passes. Look at what John ends up with."
            ),
            (
                "Read John's cart with the shared handler cart_tickets, and try his checkout: a seat he never got "
                "must not be in his cart nor be paid for."
            ),
            (
                "assert await client.object_call(add_ticket, key=john, arg=seat) is False, then "
                "assert await client.object_call(cart_tickets, key=john, arg=None) == []"
            ),
        ),
    )
)


def find_exercise(exercise_id: str) -> Exercise:
    """Look an exercise up by its id."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise LabError(f"No exercise {exercise_id!r}; known: {', '.join(EXERCISES)}") from None
