import asyncio
import itertools
from collections.abc import Awaitable, Callable

import pytest
from restate import RestateClient

from tour.testing import payments
from tour.testing.shop.cart_object import add_ticket, cart_tickets, checkout, expire_ticket
from tour.testing.shop.ticket_object import status

pytestmark = pytest.mark.anyio


KEYS = itertools.count(1)


def new(name: str) -> str:
    # A fresh key: all tests of a run share one Restate, so none may reuse another's cart or seat.
    return f"{name}-{next(KEYS)}"


async def eventually(read: Callable[[], Awaitable[str]], expected: str, timeout: float = 10.0) -> bool:
    # Poll until read() returns expected: a one-way send runs after the call that made it returned.
    deadline = asyncio.get_running_loop().time() + timeout
    while await read() != expected:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_add_ticket_reserves_the_seat(client: RestateClient):
    mary, seat = new("Mary"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    assert await client.object_call(cart_tickets, key=mary, arg=None) == [seat]
    assert await client.object_call(status, key=seat, arg=None) == "RESERVED"


async def test_an_idempotency_key_returns_the_first_result(client: RestateClient):
    mary, seat, request = new("Mary"), new("seat"), new("request")
    assert await client.object_call(add_ticket, key=mary, arg=seat, idempotency_key=request) is True
    assert await client.object_call(add_ticket, key=mary, arg=seat, idempotency_key=request) is True
    assert await client.object_call(add_ticket, key=mary, arg=seat) is False


async def test_expire_ticket_sent_one_way_releases_the_seat(client: RestateClient):
    mary, seat = new("Mary"), new("seat")
    await client.object_call(add_ticket, key=mary, arg=seat)
    sent = await client.object_send(expire_ticket, key=mary, arg=seat)
    assert sent.invocation_id.startswith("inv_")
    assert await eventually(lambda: client.object_call(status, key=seat, arg=None), "AVAILABLE")
    assert await client.object_call(cart_tickets, key=mary, arg=None) == []


async def test_checkout_charges_40_per_seat_and_sells_them(client: RestateClient):
    mary, seats = new("Mary"), [new("seat"), new("seat")]
    for seat in seats:
        await client.object_call(add_ticket, key=mary, arg=seat)
    assert await client.object_call(checkout, key=mary, arg=None) is True
    assert payments.amounts_charged(mary) == [80]
    assert await client.object_call(cart_tickets, key=mary, arg=None) == []
    for seat in seats:
        assert await eventually(lambda seat=seat: client.object_call(status, key=seat, arg=None), "SOLD")


async def test_a_declined_card_keeps_the_cart_and_the_reservations(client: RestateClient):
    mary, seat = new("Mary"), new("seat")
    payments.decline_cards_of(mary)
    await client.object_call(add_ticket, key=mary, arg=seat)
    assert await client.object_call(checkout, key=mary, arg=None) is False
    assert payments.amounts_charged(mary) == []
    assert await client.object_call(cart_tickets, key=mary, arg=None) == [seat]
    assert await client.object_call(status, key=seat, arg=None) == "RESERVED"


async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    # John tries the same seat: he must not get it, not in his cart and not at his checkout.
    assert await client.object_call(add_ticket, key=john, arg=seat) is False
    assert await client.object_call(cart_tickets, key=john, arg=None) == []
    assert await client.object_call(checkout, key=john, arg=None) is False
