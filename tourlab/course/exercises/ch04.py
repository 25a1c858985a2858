"""Chapter 04, Virtual Objects and state: the cart's expiry and the ticket's three statuses."""

from __future__ import annotations

from typing import Any

from tourlab import JournalEntry
from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import (
    AVAILABLE,
    Probe,
    key_of,
    messages,
    seat_status,
)


def check_expire_ticket(p: Probe) -> None:
    """CartObject/expireTicket releases a ticket only while it is still in the cart (section 04).

    Checked, on a cart holding seat-a, seat-b and seat-c: expiring seat-b takes exactly seat-b out of
    the cart's "tickets" (seat-a and seat-c stay) and sends TicketObject/unreserve once, for seat-b
    only; expiring a seat that is not in the cart changes nothing and releases nothing; expiring
    on a cart that has no state yet works and releases nothing.
    """
    cart = p.key("cart")
    seats = [p.key("seat-a"), p.key("seat-b"), p.key("seat-c")]
    seat_b = seats[1]
    others = [seats[0], seats[2]]
    p.seed({("CartObject", cart): {"tickets": seats}})
    p.invoke("CartObject", cart, "expireTicket", seat_b)
    left = p.state("CartObject", cart).get("tickets")
    if isinstance(left, list) and seat_b in left:
        p.fail(
            "After expireTicket the ticket is still in the cart: take it out of the list and store "
            "the list again with ctx.set.",
            _state_hint(p.journal(), "tickets"),
        )
    if not left:
        p.fail(
            f"expireTicket({p.named(seat_b)}) on a cart holding {p.named(seats)} emptied the whole cart; "
            f"{p.named(others)} were not expired and must stay.",
            "Only the ticket that expired leaves the cart; the others were reserved later and stay.",
        )
    if not isinstance(left, list) or sorted(left) != sorted(others):
        p.fail(
            f"expireTicket({p.named(seat_b)}) on a cart holding {p.named(seats)} left {p.named(left)} in "
            f"'tickets'; expected {p.named(others)}.",
            "What the cart stores afterwards is what it held before, minus the one ticket that expired.",
        )
    p.ok("expireTicket takes exactly that ticket out of the cart; the others stay")
    released = messages(p.journal(), "TicketObject", "unreserve")
    keys = [key_of(m.target) for m in released]
    if not released:
        p.fail(
            "expireTicket took the ticket out of the cart but never sent TicketObject/unreserve for it, "
            "so the seat stays reserved for nobody.",
            "Taking the ticket out of the cart is half of it: the seat itself must be released too, or it "
            "stays reserved for nobody.",
        )
    if any(k != seat_b for k in keys):
        wrong = sorted({k for k in keys if k != seat_b})
        p.fail(
            f"expireTicket({p.named(seat_b)}) also sent unreserve to {p.named(wrong)}, which are still in the cart.",
            "Each seat is an object of its own: release only the one whose reservation expired.",
        )
    if len(keys) > 1:
        p.fail(f"expireTicket sent TicketObject/unreserve {len(keys)} times for one ticket; once is enough.")
    p.ok("expireTicket sends TicketObject/unreserve once, for that ticket only")

    stranger = p.key("seat-d")
    p.invoke("CartObject", cart, "expireTicket", stranger)
    if messages(p.journal(), "TicketObject", "unreserve"):
        p.fail(
            f"expireTicket({p.named(stranger)}) released a seat that is not in the cart: it may be sold "
            "or reserved by someone else by now.",
        )
    after = p.state("CartObject", cart).get("tickets")
    if not isinstance(after, list) or sorted(after) != sorted(others):
        p.fail(
            f"expireTicket({p.named(stranger)}), a seat that is not in the cart, changed 'tickets' from "
            f"{p.named(others)} to {p.named(after)}.",
            "When the ticket is not in the cart, leave the state alone.",
        )
    p.ok("expireTicket of a seat that is not in the cart changes nothing and releases nothing")

    empty = p.key("empty-cart")
    p.invoke("CartObject", empty, "expireTicket", p.key("seat-e"))
    if messages(p.journal(), "TicketObject", "unreserve"):
        p.fail(
            "expireTicket on a cart that holds no tickets still released the seat.",
        )
    if p.state("CartObject", empty).get("tickets"):
        p.fail("expireTicket on an empty cart put tickets into it.")
    p.ok("expireTicket on a cart without tickets does nothing")


def _state_hint(entries: list[JournalEntry], name: str) -> str | None:
    """A hint for a handler that should have changed the state `name`: None if it never read it."""
    if not any(e.entry_type.startswith("Command: Get") and e.name == name for e in entries):
        return None
    if not any(e.entry_type == "Command: SetState" and e.name == name for e in entries):
        return (
            f"Changing the Python list changes nothing in Restate: the state {name!r} changes only when the "
            "handler stores the list again."
        )
    return "The list the handler stores must no longer hold the ticket: remove it before storing."


_SPELLING = (
    'The three statuses are spelled exactly "AVAILABLE", "RESERVED" and "SOLD" (reserve and unreserve compare them).'
)


def _spelling_hint(status: Any) -> str | None:
    return _SPELLING if isinstance(status, str) and status not in ("AVAILABLE", "RESERVED", "SOLD") else None


def _seats(p: Probe, **statuses: str | None) -> dict[str, str]:
    """Fresh seats named after the keywords, with the given "status" (None: never touched)."""
    seats = {name: p.key(name) for name in statuses}
    p.seed({("TicketObject", seats[n]): {"status": s} for n, s in statuses.items() if s is not None})
    return seats


def check_reserve(p: Probe) -> None:
    """TicketObject/reserve: AVAILABLE -> RESERVED (section 04).

    Checked: a seat with no status, or the status "AVAILABLE", gives True and becomes
    "RESERVED"; reserving it again gives False and it stays "RESERVED"; a "SOLD" seat gives
    False and stays "SOLD".
    """
    seats = _seats(p, fresh=None, available="AVAILABLE", sold="SOLD")
    first = p.invoke("TicketObject", seats["fresh"], "reserve")
    if first is not True:
        p.fail(
            f"reserve on a seat nobody touched returned {first!r}; such a seat is AVAILABLE, so: True.",
            'A seat nobody touched has no "status" at all, and that means it is available.',
        )
    status = seat_status(p, seats["fresh"])
    if status != "RESERVED":
        p.fail(
            f"reserve returned True but left the 'status' state at {status!r}; store 'RESERVED' "
            "so the next reservation of this seat can see it is taken.",
            _spelling_hint(status),
        )
    p.ok("reserve on an untouched seat returns True and stores 'RESERVED'")
    second = p.invoke("TicketObject", seats["fresh"], "reserve")
    status = seat_status(p, seats["fresh"])
    if second is not False or status != "RESERVED":
        p.fail(
            f"Reserving a RESERVED seat again returned {second!r} and left the status {status!r}; "
            "a seat that is taken gives False and stays RESERVED.",
            "A seat that is taken must stay taken: only a free seat can be reserved.",
        )
    p.ok("reserve on a reserved seat returns False")
    sold = p.invoke("TicketObject", seats["sold"], "reserve")
    status = seat_status(p, seats["sold"])
    if sold is not False or status != "SOLD":
        p.fail(
            f"reserve on a SOLD seat returned {sold!r} and left the status {status!r}: a sold seat can never "
            "be reserved again.",
            'A sold seat is taken for good: ask whether the seat is free, not whether it is reserved; a "SOLD" '
            "seat must give False.",
        )
    p.ok("reserve on a SOLD seat returns False and it stays SOLD")
    again = p.invoke("TicketObject", seats["available"], "reserve")
    status = seat_status(p, seats["available"])
    if again is not True or status != "RESERVED":
        p.fail(
            f"reserve on a seat whose status is 'AVAILABLE' returned {again!r} and left the status {status!r}; "
            "'AVAILABLE' means free, just like no status at all.",
            'A seat is free in two cases: it has no status, or its status is "AVAILABLE". Treat them alike.',
        )
    p.ok("reserve treats the status 'AVAILABLE' like an untouched seat")


def check_unreserve(p: Probe) -> None:
    """TicketObject/unreserve: back to AVAILABLE unless SOLD (section 04).

    Checked: a "RESERVED" seat ends with no status (or "AVAILABLE"); a "SOLD" seat stays
    "SOLD"; a seat nobody touched stays available and unreserve does not fail on it.
    """
    seats = _seats(p, reserved="RESERVED", sold="SOLD", fresh=None)
    p.invoke("TicketObject", seats["reserved"], "unreserve")
    status = seat_status(p, seats["reserved"])
    if status not in AVAILABLE:
        p.fail(f"After unreserve the status is still {status!r}; clear it so the seat is available again.")
    p.ok("unreserve makes a RESERVED seat available")
    p.invoke("TicketObject", seats["sold"], "unreserve")
    status = seat_status(p, seats["sold"])
    if status != "SOLD":
        p.fail(
            f"unreserve turned a SOLD ticket into {status!r}: an expiring reservation must never undo a sale.",
            "An expiring reservation must never undo a sale: look at the status first, and make the seat "
            'available again only when it is not "SOLD".',
        )
    p.ok("unreserve leaves a SOLD seat sold")
    p.invoke("TicketObject", seats["fresh"], "unreserve")
    status = seat_status(p, seats["fresh"])
    if status not in AVAILABLE:
        p.fail(
            f"unreserve on a seat nobody touched set its status to {status!r}; it should stay available.",
            "unreserve only ever makes a seat available; it never reserves or sells one.",
        )
    p.ok("unreserve on an untouched seat leaves it available")


def check_mark_as_sold(p: Probe) -> None:
    """TicketObject/markAsSold: RESERVED -> SOLD (section 04).

    Checked: a "RESERVED" seat becomes "SOLD"; a seat nobody touched, and one whose status is
    "AVAILABLE", keep their status (only a reserved seat can be sold); a "SOLD" seat stays "SOLD".
    """
    seats = _seats(p, reserved="RESERVED", fresh=None, available="AVAILABLE", sold="SOLD")
    p.invoke("TicketObject", seats["reserved"], "markAsSold")
    status = seat_status(p, seats["reserved"])
    if status != "SOLD":
        p.fail(
            f"markAsSold on a reserved seat left the status at {status!r}; it should be 'SOLD'.",
            _spelling_hint(status),
        )
    p.ok("markAsSold turns RESERVED into SOLD")
    for name, before in (("fresh", None), ("available", "AVAILABLE")):
        p.invoke("TicketObject", seats[name], "markAsSold")
        status = seat_status(p, seats[name])
        if status != before:
            what = "nobody touched" if before is None else "whose status is 'AVAILABLE'"
            p.fail(
                f"markAsSold on a seat {what} changed its status to {status!r}; only a RESERVED seat can be sold "
                "(it went through a cart and a payment).",
                "A seat can be sold only after a cart reserved it and its payment went through: look at the "
                'status first; only "RESERVED" becomes "SOLD".',
            )
    p.ok("markAsSold leaves seats that are not reserved as they are")
    p.invoke("TicketObject", seats["sold"], "markAsSold")
    status = seat_status(p, seats["sold"])
    if status != "SOLD":
        p.fail(f"markAsSold on a SOLD seat changed its status to {status!r}; it should stay 'SOLD'.")
    p.ok("markAsSold leaves a SOLD seat sold")


EXPIRE_TICKET = Exercise(
    id="expire_ticket",
    section="04",
    title="CartObject/expireTicket releases only tickets still in the cart",
    file="cart_object.py",
    functions=("expire_ticket",),
    start_from="tour/part2",
    solution_from="tour/part3",
    skeleton="""\
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    # TODO: release the seat only if it is still in this cart: read "tickets"; if ticket_id
    #   is there, take it out, store the list again and send TicketObject/unreserve.
    ctx.object_send(unreserve, key=ticket_id, arg=None)
""",
    hints=(
        (
            "The expiry may arrive after the ticket left the cart (checked out, or removed): then the seat "
            "is someone else's business. Act only if the cart still holds the ticket, and then both take it "
            "out and release the seat."
        ),
        (
            'ctx.get("tickets", type_hint=list[str]) or [] reads the cart (None when it was never set); '
            'ctx.set("tickets", ...) stores it again; ctx.object_send(unreserve, key=..., arg=None) releases '
            "a seat without waiting."
        ),
        (
            'Inside the block: tickets.remove(ticket_id); ctx.set("tickets", tickets); '
            "ctx.object_send(unreserve, key=ticket_id, arg=None)."
        ),
    ),
    check=check_expire_ticket,
)


RESERVE = Exercise(
    id="reserve",
    section="04",
    title="TicketObject/reserve: AVAILABLE -> RESERVED",
    file="ticket_object.py",
    functions=("reserve",),
    start_from="tour/part2",
    solution_from="tour/part3",
    skeleton="""\
@ticket.handler()
async def reserve(ctx: ObjectContext) -> bool:
    # TODO: read "status" (no value means "AVAILABLE"). If the seat is available, set the
    #   status to "RESERVED" and return True; in every other case return False.
    return True
""",
    hints=(
        (
            "A seat is free when nobody reserved or bought it: then it becomes reserved and the answer is yes. "
            "A seat that was never touched has no status at all, and is free too."
        ),
        'ctx.get("status", type_hint=str) reads the status (None if never set); ctx.set("status", ...) stores one.',
        (
            'status = await ctx.get("status", type_hint=str) or "AVAILABLE"; if status == "AVAILABLE": '
            'ctx.set("status", "RESERVED"); return True  - otherwise return False.'
        ),
    ),
    check=check_reserve,
)


UNRESERVE = Exercise(
    id="unreserve",
    section="04",
    title="TicketObject/unreserve: back to AVAILABLE unless SOLD",
    file="ticket_object.py",
    functions=("unreserve",),
    start_from="tour/part2",
    solution_from="tour/part3",
    skeleton="""\
@ticket.handler()
async def unreserve(ctx: ObjectContext) -> None:
    # TODO: clear "status" so the seat is available again, unless the ticket is "SOLD".
    return
""",
    hints=(
        (
            "A seat with no status is one nobody touched, which reserve treats as free. A sold seat must stay "
            "sold: a reservation that expires after the payment must not undo the sale."
        ),
        'ctx.get("status", type_hint=str) reads the status; ctx.clear("status") removes it.',
        'if await ctx.get("status", type_hint=str) != "SOLD": ctx.clear("status")',
    ),
    check=check_unreserve,
)


MARK_AS_SOLD = Exercise(
    id="mark_as_sold",
    section="04",
    title="TicketObject/markAsSold: RESERVED -> SOLD",
    file="ticket_object.py",
    functions=("mark_as_sold",),
    start_from="tour/part2",
    solution_from="tour/part3",
    skeleton="""\
@ticket.handler("markAsSold")
async def mark_as_sold(ctx: ObjectContext) -> None:
    # TODO: a RESERVED ticket becomes "SOLD"; any other ticket stays as it is.
    return
""",
    hints=(
        "Only a reserved seat can be sold: look at the status before changing it, and leave every other seat alone.",
        'ctx.get("status", type_hint=str) reads the status; ctx.set("status", "SOLD") stores the new one.',
        'if await ctx.get("status", type_hint=str) == "RESERVED": ctx.set("status", "SOLD")',
    ),
    check=check_mark_as_sold,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (EXPIRE_TICKET, RESERVE, UNRESERVE, MARK_AS_SOLD)
