"""Chapter 10, external events and concurrency: a group of seats reserved in parallel, all or nothing."""

from __future__ import annotations

from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import (
    Probe,
    await_messages,
    key_of,
    messages,
    released_seats,
    seat_status,
    unavailable,
)


def _group_all_free(p: Probe) -> None:
    cart, earlier = p.key("group-cart"), p.key("seat-old")
    seats = [p.key(name) for name in ("seat-a", "seat-b", "seat-c")]
    p.seed({("CartObject", cart): {"tickets": [earlier]}, ("TicketObject", earlier): {"status": "RESERVED"}})
    result = p.invoke("CartObject", cart, "addTickets", seats)
    if result is not True:
        p.fail(f"addTickets of three free seats returned {result!r}; expected True.")
    entries = p.journal()
    calls = [c for c in messages(entries, "TicketObject", "reserve") if c.entry_type == "Command: Call"]
    if sorted(key_of(c.target) for c in calls) != sorted(seats):
        p.fail(
            f"addTickets of {p.named(seats)} called reserve for {p.named([key_of(c.target) for c in calls])}; "
            "expected one call per seat."
        )
    answers = [e.index for e in entries if e.entry_type == "Notification: Call"]
    if answers and max(c.index for c in calls) > min(answers):
        p.fail(
            "addTickets reserved the seats one after the other: each call was answered before the next one "
            "started, so a group of ten takes ten round trips.",
        )
    p.ok("addTickets sends all the reservations at once and returns True when every seat is free")
    tickets = p.state("CartObject", cart).get("tickets")
    if not isinstance(tickets, list) or sorted(tickets) != sorted([earlier, *seats]):
        p.fail(
            f"After addTickets the cart holds {p.named(tickets)}; expected the ticket it had plus the three new ones.",
            "The cart keeps what it held before and gains the whole group.",
        )
    expiring = [e.value for e in messages(entries, "CartObject", "expireTicket") if e.wake_up_at]
    if any(seat not in expiring for seat in seats):
        p.fail(
            "addTickets put the seats into the cart without scheduling their expiry: they would stay "
            "reserved for ever.",
            "A seat in a cart expires like one added by addTicket: the chapter's helper that keeps seats in the "
            "cart does both.",
        )
    p.ok("the cart keeps what it had and gains the three seats, each with its expiry")


def _group_one_taken(p: Probe) -> None:
    cart, taken = p.key("other-cart"), p.key("seat-taken")
    free = [p.key("seat-d"), p.key("seat-e")]
    p.seed({("TicketObject", taken): {"status": "RESERVED"}})
    result = p.invoke("CartObject", cart, "addTickets", [free[0], taken, free[1]])
    if result is not False:
        p.fail(
            f"One of the three seats was taken, yet addTickets returned {result!r}; a group is all or nothing.",
            "A group is all or nothing: look at what each reservation answered, not only that they all answered.",
        )
    entries = p.journal()
    released = released_seats(entries)
    if taken in released:
        p.fail(
            "addTickets released the seat that was taken: that reservation belongs to another cart.",
            "Release only the seats whose reserve answered True.",
        )
    kept = [s for s in free if s not in released]
    if kept:
        p.fail(
            f"One seat was taken and addTickets returned False, but it did not release {p.named(kept)}: they "
            "stay RESERVED for nobody.",
            "When the group fails, the seats this call did reserve must be free again.",
        )
    await_messages(p, entries, "unreserve", "addTickets sent unreserve")
    if unavailable(p, free) or seat_status(p, taken) != "RESERVED":
        p.fail("After the rollback the seats are not as they were before addTickets.")
    if p.state("CartObject", cart).get("tickets"):
        p.fail("addTickets returned False but kept seats in the cart: keep nothing when the group fails.")
    p.ok("one seat taken: addTickets returns False, releases the others, keeps nothing")


def check_group_booking(p: Probe) -> None:
    """CartObject/addTickets reserves a group of seats in parallel, all or nothing (section 10).

    Checked: for three free seats, addTickets starts all three TicketObject/reserve calls before
    any answer arrives (parallel, not one after the other), returns True and keeps the seats in
    the cart next to the one it held, each with a scheduled expireTicket. When one of three seats
    is taken, it returns False, releases the two it reserved (not the taken one) and the cart
    keeps nothing.
    """
    _group_all_free(p)
    _group_one_taken(p)


GROUP_BOOKING = Exercise(
    id="group_booking",
    section="10",
    title="CartObject/addTickets reserves a group of seats at once, or none of them",
    file="cart_object.py",
    functions=("add_tickets",),
    # The reference checkpoint, so the rest of the app works (a candidate replaces one handler).
    start_from="tour/part7",
    solution_from="tour/part7",
    skeleton="""\
@cart.handler("addTickets")
async def add_tickets(ctx: ObjectContext, ticket_ids: list[str]) -> bool:
    # TODO: reserve all of ticket_ids for this cart, or none of them. No reservation may wait
    #   for the answer of another: a group of ten seats costs about one round trip, not ten.
    #   All reserved: keep them in the cart (keep_in_cart, which also schedules their expiry)
    #   and return True. Any seat taken: the seats this call did reserve are free again (a seat
    #   another cart holds stays untouched), the cart keeps nothing new, and it returns False.
    return False
""",
    hints=(
        (
            "The seats are separate objects, so no reservation needs to wait for another: send them all, "
            "then wait for all the answers. All yes: the cart keeps the seats. Any no: give back the ones "
            "this call got, and only those."
        ),
        (
            "ctx.object_call(...) without await is a durable future. await restate.gather(*futures) waits for "
            "all of them and returns the futures, not their results: await each one again (it is done) for its "
            "True or False. keep_in_cart(ctx, seats) keeps seats; ctx.object_send(unreserve, ...) releases one."
        ),
        (
            "reserved = [seat for seat, f in zip(ticket_ids, futures) if await f]; if some are missing: "
            "ctx.object_send(unreserve, key=seat, arg=None) for each reserved seat and return False; "
            "else await keep_in_cart(ctx, reserved) and return True."
        ),
    ),
    check=check_group_booking,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (GROUP_BOOKING,)
