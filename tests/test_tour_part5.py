"""Checkpoint 5: checkout as a workflow that waits for a durable promise or a timer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support import eventually

from tour.auxiliary import email_client, payment_provider
from tourlab import Lab

WORKFLOW = "CheckoutWorkflow"


@pytest.fixture
def part5(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """Part 5 is live; yields a client for the ingress paths the Lab has no helper for."""
    monkeypatch.setenv("TOUR_PAYMENT_TIMEOUT_SECONDS", "86400")  # no stray timeout fires during the session
    lab.load("tour/part5")
    payment_provider.reset()
    email_client.reset()
    with httpx.Client(base_url=lab.ingress_url, timeout=30) as ingress:
        yield ingress
    payment_provider.reset()
    email_client.reset()


def _order_with_reserved_seats(lab: Lab, unique, count: int = 2) -> dict:
    user = unique("Mary")
    seats = [unique("seat") for _ in range(count)]
    for seat in seats:
        assert lab.call("CartObject", user, "addTicket", seat) is True
    return {"user_id": user, "tickets": seats}


def _status(ingress: httpx.Client, order_id: str) -> dict:
    response = ingress.post(f"/{WORKFLOW}/{order_id}/status")
    response.raise_for_status()
    return response.json()


def test_the_same_order_id_is_one_workflow(lab: Lab, part5: httpx.Client, unique):
    order_id, order = unique("order"), _order_with_reserved_seats(lab, unique)

    first = part5.post(f"/{WORKFLOW}/{order_id}/run/send", json=order)
    again = part5.post(f"/{WORKFLOW}/{order_id}/run/send", json={"user_id": "someone else", "tickets": []})

    assert (first.status_code, first.json()["status"]) == (202, "Accepted")
    assert (again.status_code, again.json()["status"]) == (202, "PreviouslyAccepted")
    assert again.json()["invocationId"] == first.json()["invocationId"]
    assert eventually(lambda: _status(part5, order_id)["status"] == "waiting for payment")
    assert [r.callback for r in payment_provider.requests] == [order_id]
    # A request-response call to run while it runs is refused, not attached.
    busy = part5.post(f"/{WORKFLOW}/{order_id}/run", json=order)
    assert busy.status_code == 409
    assert busy.json()["message"] == "the workflow method was already invoked"


def test_confirmed_payment_sells_the_seats(lab: Lab, part5: httpx.Client, unique):
    order_id, order = unique("order"), _order_with_reserved_seats(lab, unique)
    run_id = part5.post(f"/{WORKFLOW}/{order_id}/run/send", json=order).json()["invocationId"]
    assert eventually(lambda: _status(part5, order_id) == {"status": "waiting for payment", "payment": None})
    assert part5.get(f"/restate/workflow/{WORKFLOW}/{order_id}/output").status_code == 470  # not done yet

    confirmation = {"payment_id": "pay-1", "amount": 80}
    assert part5.post(f"/{WORKFLOW}/{order_id}/confirmPayment", json=confirmation).status_code == 200

    attached = part5.get(f"/restate/workflow/{WORKFLOW}/{order_id}/attach")
    assert (attached.status_code, attached.json()) == (200, True)
    assert part5.get(f"/restate/workflow/{WORKFLOW}/{order_id}/output").json() is True
    assert _status(part5, order_id) == {"status": "paid", "payment": confirmation}
    for seat in order["tickets"]:
        assert eventually(lambda seat=seat: lab.state("TicketObject", seat) == {"status": "SOLD"})
    assert email_client.outbox == [(order["user_id"], "payment succeeded")]

    waits = [
        (e.entry_type, e.name) for e in lab.journal(run_id) if e.entry_type in ("Command: GetPromise", "Command: Sleep")
    ]
    assert waits == [("Command: GetPromise", "payment"), ("Command: Sleep", None)]
    assert any(e.entry_type == "Notification: GetPromise" for e in lab.journal(run_id))


def test_a_second_confirmation_is_refused(lab: Lab, part5: httpx.Client, unique):
    order_id, order = unique("order"), _order_with_reserved_seats(lab, unique, count=1)
    part5.post(f"/{WORKFLOW}/{order_id}/run/send", json=order)
    part5.post(f"/{WORKFLOW}/{order_id}/confirmPayment", json={"payment_id": "pay-1", "amount": 40})

    second = part5.post(f"/{WORKFLOW}/{order_id}/confirmPayment", json={"payment_id": "pay-2", "amount": 40})

    assert second.status_code == 409
    assert second.json()["message"] == "promise was already completed"
    assert part5.get(f"/restate/workflow/{WORKFLOW}/{order_id}/attach").json() is True
    assert _status(part5, order_id)["payment"]["payment_id"] == "pay-1"


def test_no_payment_in_time_releases_the_seats(lab: Lab, part5: httpx.Client, unique, monkeypatch):
    monkeypatch.setenv("TOUR_PAYMENT_TIMEOUT_SECONDS", "1")
    order_id, order = unique("order"), _order_with_reserved_seats(lab, unique)

    result = part5.post(f"/{WORKFLOW}/{order_id}/run", json=order)

    assert (result.status_code, result.json()) == (200, False)
    assert _status(part5, order_id) == {"status": "payment timed out", "payment": None}
    for seat in order["tickets"]:
        assert eventually(lambda seat=seat: lab.state("TicketObject", seat) == {})
    assert email_client.outbox == [(order["user_id"], "payment failed")]
    # The promise outlives the run: a late confirmation is stored but changes nothing.
    assert part5.post(f"/{WORKFLOW}/{order_id}/confirmPayment", json={"payment_id": "late", "amount": 80}).is_success
    assert _status(part5, order_id)["status"] == "payment timed out"


def test_a_rejected_payment_releases_the_seats_and_says_why(lab: Lab, part5: httpx.Client, unique):
    order_id, order = unique("order"), _order_with_reserved_seats(lab, unique)
    part5.post(f"/{WORKFLOW}/{order_id}/run/send", json=order)
    assert eventually(lambda: _status(part5, order_id)["status"] == "waiting for payment")

    rejected = part5.post(f"/{WORKFLOW}/{order_id}/rejectPayment", json="card declined")

    assert rejected.is_success
    assert lab.attach(f"{WORKFLOW}/{order_id}") is False
    # status peeks at a rejected promise: peek raises the rejection, status answers None for it.
    assert _status(part5, order_id) == {"status": "payment rejected: card declined", "payment": None}
    for seat in order["tickets"]:
        assert eventually(lambda seat=seat: lab.state("TicketObject", seat) == {})
    assert email_client.outbox == [(order["user_id"], "payment failed")]
    late = part5.post(f"/{WORKFLOW}/{order_id}/confirmPayment", json={"payment_id": "late", "amount": 80})
    assert (late.status_code, late.json()["message"]) == (409, "promise was already completed")


def test_a_cancelled_checkout_releases_the_seats_and_ends_cancelled(lab: Lab, part5: httpx.Client, unique):
    order_id, order = unique("order"), _order_with_reserved_seats(lab, unique)
    submitted = part5.post(f"/{WORKFLOW}/{order_id}/run/send", json=order).json()["invocationId"]
    assert eventually(lambda: _status(part5, order_id)["status"] == "waiting for payment")

    lab.cancel(submitted)

    assert lab.wait_for(submitted, "completed").completion_failure == "[409] cancelled"
    assert _status(part5, order_id)["status"] == "cancelled"
    for seat in order["tickets"]:
        assert eventually(lambda seat=seat: lab.state("TicketObject", seat) == {})
    assert email_client.outbox == []


def test_status_peeks_at_the_promise_without_waiting(lab: Lab, part5: httpx.Client, unique):
    order_id, order = unique("order"), _order_with_reserved_seats(lab, unique, count=1)
    part5.post(f"/{WORKFLOW}/{order_id}/run/send", json=order)

    peeked = part5.post(f"/{WORKFLOW}/{order_id}/status")

    entries = [e.entry_type for e in lab.journal(peeked.headers["x-restate-id"])]
    assert "Command: PeekPromise" in entries
    assert "Command: GetPromise" not in entries
