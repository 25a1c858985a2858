"""Checkpoint 7: awakeables completed from outside, a locked cart, parallel reservations, and the
shop's one checkout (cart -> CheckoutWorkflow -> provider -> sold or released)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support import eventually

from tour.auxiliary import email_client, payment_provider
from tourlab import InvocationError, Lab


@pytest.fixture
def part7(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """Part 7 is live with a provider that answers after 0.2 s; yields an ingress client."""
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "0.2")
    monkeypatch.setenv("TOUR_PAYMENT_TIMEOUT_SECONDS", "86400")
    lab.load("tour/part7")
    payment_provider.reset()
    email_client.reset()
    with httpx.Client(base_url=lab.ingress_url, timeout=30) as ingress:
        yield ingress
    payment_provider.reset()  # also drops answers the provider has not sent yet
    email_client.reset()


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


def test_a_cancelled_checkout_with_provider_ends_cancelled_not_unpaid(lab: Lab, part7, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "86400")
    cart, seat = _cart_with_seat(lab, unique)
    checkout = lab.send("CartObject", cart, "checkoutWithProvider")
    assert eventually(lambda: lab.state("CartObject", cart).get("pending_payment"))

    lab.cancel(checkout)

    with pytest.raises(InvocationError, match="cancelled") as cancelled:
        lab.attach(checkout, timeout=15)
    assert cancelled.value.status_code == 409
    assert lab.invocation(checkout).completion_failure == "[409] cancelled"
    assert lab.state("CartObject", cart) == {"tickets": [seat]}  # nothing sold; the expiry releases the seat
    assert lab.state("TicketObject", seat) == {"status": "RESERVED"}


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
    assert lab.invocation(checkout).status == "running"  # CartObject keeps the default 1 min inactivity timeout

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


# -- the shop's one checkout ------------------------------------------------------------------


def _order(lab: Lab, unique, seats: int = 2) -> tuple[str, list[str], str]:
    """A cart with `seats` seats checked out: (cart, seats, order id)."""
    cart, chosen = unique("Ann"), [unique("seat") for _ in range(seats)]
    assert lab.call("CartObject", cart, "addTickets", chosen) is True
    order_id = lab.call("CartObject", cart, "checkout")
    assert order_id == f"{cart}-1"
    return cart, chosen, order_id


def _run_of(lab: Lab, order_id: str) -> str:
    return eventually(lambda: next(iter(lab.invocations(target=f"CheckoutWorkflow/{order_id}/run")), None)).id


def _seats(lab: Lab, seats: list[str], expected: dict[str, str]) -> bool:
    return eventually(lambda: all(lab.state("TicketObject", s) == expected for s in seats))


def test_checkout_starts_the_order_workflow_and_the_provider_pays_it(lab: Lab, part7, unique):
    cart, seats, order_id = _order(lab, unique)

    # The cart answered at once: a one-way start, the seats handed to the order.
    assert lab.state("CartObject", cart) == {"orders": 1}
    assert [e.entry_type for e in lab.journal() if e.kind == "OneWayCall"] == ["Command: OneWayCall"]
    assert lab.attach(f"CheckoutWorkflow/{order_id}", timeout=30) is True

    (request,) = payment_provider.requests
    assert request.callback.startswith("sign_")
    assert (request.user_id, request.amount) == (cart, 80)
    status = lab.call("CheckoutWorkflow", order_id, "status")
    assert status["status"] == "paid"
    assert status["payment"]["amount"] == 80
    assert _seats(lab, seats, {"status": "SOLD"})
    assert email_client.outbox == [(cart, "payment succeeded")]
    # The next checkout of the same cart is a new order.
    assert lab.call("CartObject", cart, "addTicket", unique("seat")) is True
    assert lab.call("CartObject", cart, "checkout") == f"{cart}-2"


def test_checkout_of_an_empty_cart_is_refused(lab: Lab, part7, unique):
    with pytest.raises(InvocationError, match="is empty") as refused:
        lab.call("CartObject", unique("Ann"), "checkout")
    assert refused.value.status_code == 400


def test_an_order_not_paid_in_time_releases_its_seats(lab: Lab, part7, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "86400")
    monkeypatch.setenv("TOUR_PAYMENT_TIMEOUT_SECONDS", "1")
    cart, seats, order_id = _order(lab, unique)

    assert lab.attach(f"CheckoutWorkflow/{order_id}", timeout=30) is False

    assert lab.call("CheckoutWorkflow", order_id, "status")["status"] == "payment timed out"
    assert _seats(lab, seats, {})
    assert email_client.outbox == [(cart, "payment failed")]
    assert "Notification: Sleep" in [e.entry_type for e in lab.journal(_run_of(lab, order_id))]


@pytest.mark.parametrize("by", ["shop", "provider"])
def test_a_rejected_payment_releases_the_seats(lab: Lab, part7, unique, monkeypatch, by: str):
    cart, seats = unique("Bob"), [unique("seat")]
    if by == "provider":
        payment_provider.decline(cart)
    else:
        monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "86400")
    assert lab.call("CartObject", cart, "addTickets", seats) is True
    order_id = lab.call("CartObject", cart, "checkout")
    if by == "shop":
        run = _run_of(lab, order_id)
        assert "promise 'payment'" in (eventually(lambda: lab.waiting_for(run)) or "")
        assert lab.call("CheckoutWorkflow", order_id, "rejectPayment", "card reported stolen") is None

    assert lab.attach(f"CheckoutWorkflow/{order_id}", timeout=30) is False

    reason = "card reported stolen" if by == "shop" else "card declined"
    assert lab.call("CheckoutWorkflow", order_id, "status")["status"] == f"payment rejected: {reason}"
    assert _seats(lab, seats, {})
    assert email_client.outbox == [(cart, "payment failed")]


def test_a_cancelled_order_releases_its_seats_and_ends_cancelled(lab: Lab, part7, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "86400")
    _cart, seats, order_id = _order(lab, unique)
    run = _run_of(lab, order_id)
    # The workflow's 1 s inactivity timeout: the waiting order is suspended, no handler is open.
    suspended = lab.wait_for(run, "suspended", timeout=15)
    assert set(suspended.waiting_signals) == {1, 17}  # the cancel signal and the provider's awakeable

    lab.cancel(run)

    with pytest.raises(InvocationError, match="cancelled") as cancelled:
        lab.attach(f"CheckoutWorkflow/{order_id}", timeout=30)
    assert cancelled.value.status_code == 409
    assert lab.invocation(run).completion_failure == "[409] cancelled"
    assert lab.call("CheckoutWorkflow", order_id, "status")["status"] == "cancelled"
    assert _seats(lab, seats, {})
    assert email_client.outbox == []  # a cancel is not the provider's no: no "payment failed" e-mail


def test_the_first_answer_decides_and_later_ones_change_nothing(lab: Lab, part7: httpx.Client, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PROVIDER_DELAY_SECONDS", "86400")
    _cart, seats, order_id = _order(lab, unique)
    callback = eventually(lambda: payment_provider.requests)[0].callback
    assert lab.call("CheckoutWorkflow", order_id, "confirmPayment", {"payment_id": "p-1", "amount": 80}) is None
    assert lab.attach(f"CheckoutWorkflow/{order_id}", timeout=30) is True

    late = part7.post(f"/restate/awakeables/{callback}/resolve", json={"payment_id": "p-2", "amount": 80})
    assert late.status_code == 202  # accepted and ignored
    with pytest.raises(InvocationError, match="promise was already completed"):
        lab.call("CheckoutWorkflow", order_id, "rejectPayment", "too late")
    assert lab.call("CheckoutWorkflow", order_id, "status")["payment"] == {"payment_id": "p-1", "amount": 80}
    assert _seats(lab, seats, {"status": "SOLD"})


@pytest.mark.parametrize("handler", ["reserve", "unreserve", "markAsSold"])
def test_the_seats_cannot_be_changed_through_the_ingress(lab: Lab, part7: httpx.Client, unique, handler: str):
    seat = unique("seat")
    for path in (f"/TicketObject/{seat}/{handler}", f"/TicketObject/{seat}/{handler}/send"):
        refused = part7.post(path)
        assert (refused.status_code, refused.json()["message"]) == (400, "the invoked service is not public")
    assert lab.state("TicketObject", seat) == {}
    assert lab.call("CartObject", unique("Ann"), "addTicket", seat) is True  # the cart still reaches it
