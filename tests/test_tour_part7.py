"""Checkpoint 7: awakeables completed from outside, a locked cart, parallel reservations."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support import eventually

from tour.auxiliary import payment_provider
from tourlab import Lab


@pytest.fixture
def part7(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """Part 7 is live with a provider that answers after 0.2 s; yields an ingress client."""
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "0.2")
    monkeypatch.setenv("TOUR_PAYMENT_TIMEOUT_SECONDS", "86400")
    lab.load("tour/part7")
    payment_provider.reset()
    with httpx.Client(base_url=lab.ingress_url, timeout=30) as ingress:
        yield ingress
    payment_provider.reset()  # also drops answers the provider has not sent yet


def _cart_with_seat(lab: Lab, unique) -> tuple[str, str]:
    cart, seat = unique("Mary"), unique("seat")
    assert lab.call("CartObject", cart, "addTicket", seat) is True
    return cart, seat


def test_the_provider_resolves_the_awakeable_through_the_ingress(lab: Lab, part7, unique):
    cart, seat = _cart_with_seat(lab, unique)

    assert lab.call("CartObject", cart, "checkoutWithProvider", timeout=30) is True

    (request,) = payment_provider.requests
    assert request.callback.startswith("sign_")
    assert (request.user_id, request.amount) == (cart, 40)
    assert lab.state("CartObject", cart) == {}
    assert eventually(lambda: lab.state("TicketObject", seat) == {"status": "SOLD"})
    entries = [e.entry_type for e in lab.journal()]
    assert "Notification: Signal" in entries  # the awakeable's completion; creating it wrote no entry
    assert not any("Awakeable" in entry for entry in entries)


def test_a_rejected_payment_keeps_the_cart(lab: Lab, part7, unique):
    cart, seat = _cart_with_seat(lab, unique)
    payment_provider.decline(cart)

    assert lab.call("CartObject", cart, "checkoutWithProvider", timeout=30) is False

    assert lab.state("CartObject", cart) == {"tickets": [seat]}
    assert lab.state("TicketObject", seat) == {"status": "RESERVED"}
    signal = next(e for e in lab.journal() if e.entry_type == "Notification: Signal")
    assert '"result":"Failure"' in signal.raw["entry_lite_json"]


def test_the_timer_wins_when_the_provider_is_slow(lab: Lab, part7, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "86400")
    monkeypatch.setenv("TOUR_PAYMENT_TIMEOUT_SECONDS", "1")
    cart, seat = _cart_with_seat(lab, unique)

    assert lab.call("CartObject", cart, "checkoutWithProvider", timeout=30) is False

    assert lab.state("CartObject", cart) == {"tickets": [seat]}
    assert any(e.entry_type == "Notification: Sleep" for e in lab.journal())


def test_a_waiting_exclusive_handler_holds_the_cart_but_shared_status_answers(
    lab: Lab, part7: httpx.Client, unique, monkeypatch
):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "86400")  # we answer in the provider's place
    cart, seat = _cart_with_seat(lab, unique)
    checkout = lab.send("CartObject", cart, "checkoutWithProvider")
    assert eventually(lambda: payment_provider.requests)
    awakeable_id = payment_provider.requests[0].callback

    assert lab.call("CartObject", cart, "status") == {"tickets": [seat], "pending_payment": awakeable_id}
    late_seat = unique("seat")
    add = lab.send("CartObject", cart, "addTicket", late_seat)
    assert lab.wait_for(add, "pending").status == "pending"
    assert lab.invocation(checkout).status == "running"  # "suspended" only after the 1 min inactivity timeout

    resolved = part7.post(f"/restate/awakeables/{awakeable_id}/resolve", json={"payment_id": "p-1", "amount": 40})

    assert resolved.status_code == 202
    assert lab.wait_for(checkout, "completed").completion_result == "success"
    assert lab.wait_for(add, "completed").completion_result == "success"
    assert lab.state("CartObject", cart) == {"tickets": [late_seat]}
    # Completing it again is accepted and ignored.
    again = part7.post(f"/restate/awakeables/{awakeable_id}/resolve", json={"payment_id": "p-2", "amount": 40})
    assert again.status_code == 202


def test_a_group_booking_is_all_or_nothing(lab: Lab, part7, unique):
    taken = unique("seat")
    assert lab.call("CartObject", unique("Bob"), "addTicket", taken) is True
    cart, seats = unique("Group"), [unique("seat"), unique("seat")]

    assert lab.call("CartObject", cart, "addTickets", [*seats, taken]) is False

    entries = [e.entry_type for e in lab.journal()]
    calls_sent = [i for i, entry in enumerate(entries) if entry == "Command: Call"]
    first_answer = entries.index("Notification: Call")
    assert len(calls_sent) == 3
    assert max(calls_sent) < first_answer  # all three reservations were in flight together
    assert lab.state("CartObject", cart) == {}
    assert eventually(lambda: all(lab.state("TicketObject", s) == {} for s in seats))
    assert lab.state("TicketObject", taken) == {"status": "RESERVED"}

    assert lab.call("CartObject", cart, "addTickets", seats) is True
    assert lab.state("CartObject", cart) == {"tickets": seats}


def test_any_tickets_keeps_the_first_reservations_and_releases_the_rest(lab: Lab, part7, unique):
    taken = unique("seat")
    assert lab.call("CartObject", unique("Bob"), "addTicket", taken) is True
    cart, candidates = unique("Group"), [unique("seat") for _ in range(4)]

    kept = lab.call("CartObject", cart, "addAnyTickets", {"candidates": [taken, *candidates], "count": 2})

    assert len(kept) == 2
    assert set(kept) <= set(candidates)
    assert lab.state("CartObject", cart) == {"tickets": kept}
    released = [seat for seat in candidates if seat not in kept]
    assert eventually(lambda: all(lab.state("TicketObject", s) == {} for s in released))
    assert all(lab.state("TicketObject", s) == {"status": "RESERVED"} for s in kept)
    assert lab.state("TicketObject", taken) == {"status": "RESERVED"}
