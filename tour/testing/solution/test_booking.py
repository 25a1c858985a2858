import itertools

import pytest
from restate import HttpError, RestateClient

from tour.testing import mail, payments
from tour.testing.shop.booking_service import book
from tour.testing.shop.ticket_object import status

pytestmark = pytest.mark.anyio

KEYS = itertools.count(1)


def new(name: str) -> str:
    return f"{name}-{next(KEYS)}"


async def seat_statuses(client: RestateClient, seats: list[str]) -> list[str]:
    return [await client.object_call(status, key=seat, arg=None) for seat in seats]


async def test_a_booking_charges_once_and_sells_the_seats(client: RestateClient):
    ann, seats = new("Ann"), [new("seat"), new("seat")]
    assert await client.service_call(book, arg={"user_id": ann, "tickets": seats}) is True
    assert payments.amounts_charged(ann) == [80]
    assert payments.amounts_refunded(ann) == []


async def test_a_declined_card_releases_every_seat(client: RestateClient):
    bob, seats = new("Bob"), [new("seat"), new("seat")]
    payments.decline_cards_of(bob)
    with pytest.raises(HttpError) as failed:
        await client.service_call(book, arg={"user_id": bob, "tickets": seats})
    assert failed.value.status_code == 402
    assert await seat_statuses(client, seats) == ["AVAILABLE", "AVAILABLE"]


async def test_a_failure_after_the_charge_is_undone(client: RestateClient):
    cid, seats = new("Cid"), [new("seat"), new("seat")]
    mail.bounce_mails_of(cid)
    with pytest.raises(HttpError) as failed:
        await client.service_call(book, arg={"user_id": cid, "tickets": seats})
    assert failed.value.status_code == 422
    # Always replay runs the handler again after every step: a refund outside the journal is paid again.
    assert payments.amounts_refunded(cid) == [80]
    assert await seat_statuses(client, seats) == ["AVAILABLE", "AVAILABLE"]
