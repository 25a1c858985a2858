"""Checkpoint 6: the booking saga undoes what succeeded, newest first, on failure or cancel."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support import eventually

from tour.auxiliary import email_client, payment_client
from tourlab import InvocationError, Lab


@pytest.fixture
def part6(lab: Lab) -> Iterator[None]:
    lab.load("tour/part6")
    payment_client.reset()
    email_client.reset()
    yield
    payment_client.reset()
    email_client.reset()


def _order(unique, count: int = 2) -> dict:
    return {"user_id": unique("Ann"), "tickets": [unique("seat") for _ in range(count)]}


def _steps(lab: Lab, invocation_id: str) -> list[str]:
    """Run steps by name and calls by target, in journal order."""
    return [e.name or e.target for e in lab.journal(invocation_id) if e.entry_type in ("Command: Run", "Command: Call")]


def _seats_free(lab: Lab, seats: list[str]) -> bool:
    return all(lab.state("TicketObject", seat) == {} for seat in seats)


def _compensations(seats: list[str]) -> list[str]:
    return ["refund", *(f"TicketObject/{seat}/unreserve" for seat in reversed(seats))]


def test_a_booking_charges_sends_the_tickets_and_sells_the_seats(lab: Lab, part6, unique):
    order = _order(unique)

    assert lab.call("BookingService", None, "book", order) is True

    assert [(c.amount, c.succeeded) for c in payment_client.charges()] == [(80, True)]
    assert email_client.outbox == [(order["user_id"], f"your tickets: {', '.join(order['tickets'])}")]
    assert eventually(lambda: all(lab.state("TicketObject", s) == {"status": "SOLD"} for s in order["tickets"]))
    assert payment_client.refunds() == []


def test_a_declined_card_releases_the_seats_in_reverse_order(lab: Lab, part6, unique):
    order = _order(unique)
    payment_client.decline(order["user_id"])

    with pytest.raises(InvocationError) as failed:
        lab.call("BookingService", None, "book", order)

    assert failed.value.status_code == 402
    assert "declined" in str(failed.value)
    reserves = [f"TicketObject/{seat}/reserve" for seat in order["tickets"]]
    assert _steps(lab, failed.value.invocation_id) == [*reserves, "charge", *_compensations(order["tickets"])]
    assert _seats_free(lab, order["tickets"])
    assert payment_client.refunds() == []  # nothing was charged, so the refund step found nothing to give back


def test_a_taken_seat_releases_only_the_seats_this_booking_reserved(lab: Lab, part6, unique):
    taken = unique("seat")
    assert lab.call("CartObject", unique("Bob"), "addTicket", taken) is True
    order = {"user_id": unique("Ann"), "tickets": [unique("seat"), taken]}

    with pytest.raises(InvocationError) as failed:
        lab.call("BookingService", None, "book", order)

    assert failed.value.status_code == 409
    free = order["tickets"][0]
    assert _steps(lab, failed.value.invocation_id) == [
        f"TicketObject/{free}/reserve",
        f"TicketObject/{taken}/reserve",
        f"TicketObject/{free}/unreserve",
    ]
    assert lab.state("TicketObject", free) == {}
    assert lab.state("TicketObject", taken) == {"status": "RESERVED"}
    assert payment_client.charges() == []


def test_a_failure_after_the_charge_refunds_then_releases(lab: Lab, part6, unique):
    order = _order(unique)
    email_client.fail_next(10)

    with pytest.raises(InvocationError) as failed:
        lab.call("BookingService", None, "book", order, timeout=30)

    # RunOptions(max_attempts=3) gave up on the e-mail: its last error became a TerminalError.
    assert failed.value.status_code == 500
    assert "ConnectionError('mail server unreachable')" in str(failed.value)
    steps = _steps(lab, failed.value.invocation_id)
    assert steps[-4:] == ["send tickets", *_compensations(order["tickets"])]
    (charge,) = payment_client.charges()
    assert [(r.idempotency_key, r.amount) for r in payment_client.refunds()] == [(charge.idempotency_key, 80)]
    assert _seats_free(lab, order["tickets"])
    assert email_client.outbox == []


def test_a_charge_whose_answer_is_lost_is_refunded(lab: Lab, part6, unique):
    order = _order(unique)
    payment_client.lose_next_answers(3)  # the provider takes the money, its answers time out

    with pytest.raises(InvocationError) as failed:
        lab.call("BookingService", None, "book", order, timeout=30)

    assert "TimeoutError('no answer from the payment provider')" in str(failed.value)
    (charge,) = payment_client.charges()  # charged once: the retries carried the same key
    assert charge.succeeded
    assert [(r.idempotency_key, r.amount) for r in payment_client.refunds()] == [(charge.idempotency_key, 80)]
    assert _steps(lab, failed.value.invocation_id)[-3:] == _compensations(order["tickets"])
    assert _seats_free(lab, order["tickets"])


def test_a_kill_skips_the_compensations(lab: Lab, part6, unique):
    order = _order(unique)
    payment_client.fail_next_charges(100)
    booking = lab.send("BookingService", None, "book", order)
    lab.wait_for(booking, "backing-off")

    lab.kill(booking)

    assert lab.wait_for(booking, "completed").completion_failure == "[409] killed"
    assert "refund" not in _steps(lab, booking)
    assert all(lab.state("TicketObject", seat) == {"status": "RESERVED"} for seat in order["tickets"])


def test_a_cancel_waits_for_the_next_attempt_of_a_backing_off_booking(lab: Lab, part6, unique):
    order = _order(unique, count=1)
    payment_client.fail_next_charges(100)
    booking = lab.send("BookingService", None, "book", order)
    lab.wait_for(booking, "backing-off")
    query = f"SELECT status, next_retry_at FROM sys_invocation WHERE id = '{booking}'"
    [before] = lab.query(query)

    lab.cancel(booking)
    [after] = lab.query(query)

    # Journaled right away, acted on at the next scheduled attempt (no resume here).
    assert eventually(lambda: "Notification: Signal" in [e.entry_type for e in lab.journal(booking)])
    assert after == before
    assert lab.wait_for(booking, "completed").completion_failure == "[409] cancelled"
    assert _steps(lab, booking)[-2:] == _compensations(order["tickets"])
    assert len(payment_client.charges()) == 1  # the charge was not tried again


def test_exhausted_charge_retries_become_a_terminal_error(lab: Lab, part6, unique):
    order = _order(unique, count=1)
    payment_client.fail_next_charges(100)

    with pytest.raises(InvocationError) as failed:
        lab.call("BookingService", None, "book", order, timeout=30)

    assert failed.value.status_code == 500
    assert "ConnectionError('payment provider unreachable')" in str(failed.value)
    attempts = payment_client.charges()
    assert [a.succeeded for a in attempts] == [False, False, False]  # max_attempts counts the first try
    assert len({a.idempotency_key for a in attempts}) == 1
    assert _steps(lab, failed.value.invocation_id)[-2:] == _compensations(order["tickets"])
    assert _seats_free(lab, order["tickets"])


def test_cancelling_a_retrying_booking_runs_the_compensations(lab: Lab, part6, unique):
    order = _order(unique)
    payment_client.fail_next_charges(100)
    booking = lab.send("BookingService", None, "book", order)
    lab.wait_for(booking, "backing-off")

    lab.cancel(booking)
    attempts = len(payment_client.charges())
    # A cancel reaches a backing-off invocation at its next attempt; resume makes that attempt now.
    lab.resume(booking)
    done = lab.wait_for(booking, "completed")

    assert done.completion_failure == "[409] cancelled"
    assert _steps(lab, booking)[-3:] == _compensations(order["tickets"])
    assert len(payment_client.charges()) == attempts  # the charge step did not run again after the cancel
    assert _seats_free(lab, order["tickets"])


def test_a_failing_compensation_pauses_the_booking_until_resumed(lab: Lab, part6, unique):
    policy = httpx.get(f"{lab.admin_url}/services/BookingService").json()["retry_policy"]
    assert (policy["max_attempts"], policy["on_max_attempts"]) == (8, "Pause")
    order = _order(unique, count=1)
    payment_client.decline(order["user_id"])
    payment_client.fail_next_refunds(1000)
    booking = lab.send("BookingService", None, "book", order)

    lab.wait_for(booking, "paused", timeout=30)
    assert lab.state("TicketObject", order["tickets"][0]) == {"status": "RESERVED"}

    payment_client.fail_next_refunds(0)
    lab.resume(booking)

    assert lab.wait_for(booking, "completed").completion_failure.startswith("[402] card of")
    assert _seats_free(lab, order["tickets"])
