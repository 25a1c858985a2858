"""Every checkpoint of the tour behaves as the tour says, against a real Restate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import eventually, invocation_of

from tour.auxiliary import email_client, payment_client
from tourlab import Lab

STATEFUL_PARTS = ["part3", "part4"]


@pytest.fixture
def short_reservations(monkeypatch: pytest.MonkeyPatch) -> None:
    # The handlers read this at call time; the endpoint runs in this process.
    monkeypatch.setenv("TOUR_RESERVATION_SECONDS", "1")


@pytest.fixture
def fresh_fakes() -> Iterator[None]:
    payment_client.reset()
    email_client.reset()
    yield
    payment_client.reset()
    email_client.reset()


def _expire_invocation(lab: Lab, cart: str) -> str:
    return invocation_of(lab, f"CartObject/{cart}/expireTicket")


@pytest.mark.parametrize("part", ["part1", "part2", "part3", "part4"])
def test_add_ticket_reserves_through_ticket_object(lab: Lab, part: str, unique):
    lab.load(f"tour/{part}")
    assert lab.call("CartObject", unique("Mary"), "addTicket", unique("seat")) is True
    calls = [entry.target for entry in lab.journal() if entry.entry_type == "Command: Call"]
    assert len(calls) == 1
    assert calls[0].startswith("TicketObject/seat-")
    assert calls[0].endswith("/reserve")


@pytest.mark.parametrize("part", ["part1", "part2"])
def test_early_parts_checkout_calls_the_checkout_service(lab: Lab, part: str, unique):
    lab.load(f"tour/{part}")
    cart = unique("Mary")
    assert lab.call("CartObject", cart, "checkout") is True
    targets = [entry.target for entry in lab.journal() if entry.target]
    assert targets == ["CheckoutService/handle"]


def test_part1_expire_ticket_sends_unreserve_one_way(lab: Lab, unique):
    lab.load("tour/part1")
    seat = unique("seat")
    assert lab.call("CartObject", unique("Mary"), "expireTicket", seat) is None
    sends = [entry for entry in lab.journal() if entry.entry_type == "Command: OneWayCall"]
    assert [entry.target for entry in sends] == [f"TicketObject/{seat}/unreserve"]


def test_part2_schedules_expire_ticket_after_the_reservation(lab: Lab, unique, short_reservations):
    lab.load("tour/part2")
    cart = unique("Mary")
    assert lab.call("CartObject", cart, "addTicket", "seat2B") is True
    sends = [entry for entry in lab.journal() if entry.entry_type == "Command: OneWayCall"]
    assert [entry.target for entry in sends] == [f"CartObject/{cart}/expireTicket"]
    assert sends[0].wake_up_at is not None

    expired = lab.wait_for(_expire_invocation(lab, cart), "completed", timeout=30)
    assert expired.completion_result == "success"


@pytest.mark.parametrize("part", STATEFUL_PARTS)
def test_same_seat_twice_is_true_then_false(lab: Lab, part: str, unique):
    lab.load(f"tour/{part}")
    seat = unique("seat")
    assert lab.call("CartObject", unique("Mary"), "addTicket", seat) is True
    assert lab.call("CartObject", unique("John"), "addTicket", seat) is False
    assert lab.state("TicketObject", seat) == {"status": "RESERVED"}


@pytest.mark.parametrize("part", STATEFUL_PARTS)
def test_delayed_expire_ticket_unreserves_the_seat(lab: Lab, part: str, unique, short_reservations):
    lab.load(f"tour/{part}")
    cart, seat = unique("Mary"), unique("seat")
    assert lab.call("CartObject", cart, "addTicket", seat) is True
    assert lab.state("CartObject", cart) == {"tickets": [seat]}

    lab.wait_for(_expire_invocation(lab, cart), "completed", timeout=30)

    assert lab.state("CartObject", cart) == {"tickets": []}
    deadline_seat_free = lab.call("CartObject", unique("John"), "addTicket", seat)
    assert deadline_seat_free is True


@pytest.mark.parametrize("part", STATEFUL_PARTS)
def test_checkout_of_an_empty_cart_is_false(lab: Lab, part: str, unique):
    lab.load(f"tour/{part}")
    assert lab.call("CartObject", unique("Mary"), "checkout") is False


@pytest.mark.parametrize("part", STATEFUL_PARTS)
def test_checkout_sells_the_tickets_and_clears_the_cart(lab: Lab, part: str, unique, fresh_fakes):
    lab.load(f"tour/{part}")
    cart, seats = unique("Mary"), [unique("seat"), unique("seat")]
    for seat in seats:
        assert lab.call("CartObject", cart, "addTicket", seat) is True

    assert lab.call("CartObject", cart, "checkout") is True

    assert lab.state("CartObject", cart) == {}
    for seat in seats:
        sold = lambda seat=seat: lab.state("TicketObject", seat) == {"status": "SOLD"}  # noqa: E731
        assert eventually(sold), f"{seat} was not marked as sold"


def test_part4_charges_40_per_ticket_and_sends_an_email(lab: Lab, unique, fresh_fakes):
    lab.load("tour/part4")
    cart = unique("Mary")
    for seat in (unique("seat"), unique("seat"), unique("seat")):
        lab.call("CartObject", cart, "addTicket", seat)

    assert lab.call("CartObject", cart, "checkout") is True

    assert [(c.amount, c.succeeded) for c in payment_client.charges()] == [(120, True)]
    assert email_client.outbox == [(cart, "payment succeeded")]
    handle = invocation_of(lab, "CheckoutService/handle")
    steps = [entry.name for entry in lab.journal(handle) if entry.entry_type == "Command: Run"]
    assert steps == ["payment", "email"]


def test_payment_key_is_stable_across_retries_and_charged_once(lab: Lab, copy_part, unique, fresh_fakes):
    app = copy_part("part4")
    module = app / "checkout_service.py"
    module.write_text(module.read_text().replace("payment_client.call,", "payment_client.flaky_call,"))
    payment_client.set_failures_per_key(2)
    lab.load(app)
    cart = unique("Mary")
    lab.call("CartObject", cart, "addTicket", unique("seat"))

    assert lab.call("CartObject", cart, "checkout", timeout=30) is True

    attempts = payment_client.charges()
    assert [a.succeeded for a in attempts] == [False, False, True]
    assert len({a.idempotency_key for a in attempts}) == 1


def test_failure_after_the_payment_replays_it_instead_of_charging_again(lab: Lab, unique, fresh_fakes):
    lab.load("tour/part4")
    email_client.fail_next(2)
    cart = unique("Mary")
    lab.call("CartObject", cart, "addTicket", unique("seat"))

    assert lab.call("CartObject", cart, "checkout", timeout=30) is True

    # Two e-mail attempts failed (the outbox got the third), each failing the whole attempt;
    # the retries replayed the journaled payment instead of charging again.
    assert [c.succeeded for c in payment_client.charges()] == [True]
    assert email_client.outbox == [(cart, "payment succeeded")]


def test_a_step_whose_result_was_not_journaled_runs_again_and_the_key_dedups(lab: Lab, unique, fresh_fakes):
    lab.load("tour/part4")
    payment_client.hold_answers()  # the provider takes the money and keeps its answer back
    try:
        handle = lab.send("CheckoutService", None, "handle", {"user_id": unique("Ann"), "tickets": ["a", "b"]})
        assert eventually(payment_client.answers_held)
        lab.stop_endpoint()  # the endpoint dies before the step's result reaches Restate
    finally:
        payment_client.hold_answers(False)
        lab.start_endpoint()

    assert lab.wait_for(handle, "completed").completion_result == "success"
    # The step's function ran twice; the second request carried the same key and charged nothing.
    charges = payment_client.charges()
    assert [(c.amount, c.succeeded, c.repeat) for c in charges] == [(80, True, False), (80, True, True)]
    assert len({c.idempotency_key for c in charges}) == 1
    assert [e.name for e in lab.journal(handle) if e.entry_type == "Command: Run"] == ["payment", "email"]


@pytest.mark.parametrize("part", STATEFUL_PARTS)
def test_idempotency_key_header_returns_the_first_result(lab: Lab, part: str, unique):
    lab.load(f"tour/{part}")
    cart, seat, key = unique("Mary"), unique("seat"), unique("request")
    assert lab.call("CartObject", cart, "addTicket", seat, idempotency_key=key) is True
    assert lab.call("CartObject", cart, "addTicket", seat, idempotency_key=key) is True
    assert lab.call("CartObject", cart, "addTicket", seat) is False
    assert lab.state("CartObject", cart) == {"tickets": [seat]}
