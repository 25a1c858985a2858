"""Tests for the shop through Restate's typed client: calls, sends, idempotency keys, a declined card."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import restate
from restate import RestateClient

from tour.testing import payments
from tour.testing.restate_fixture import RestateEnv
from tour.testing.shop.cart_object import add_ticket, cart_tickets, checkout, expire_ticket
from tour.testing.shop.checkout_service import handle
from tour.testing.shop.ticket_object import status

pytestmark = pytest.mark.anyio


def new(name: str) -> str:
    """A fresh key: tests share one Restate, so they never reuse a cart or a seat."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def eventually(read: Callable[[], Awaitable[str]], expected: str, timeout: float = 10.0) -> bool:
    """Poll `read` until it returns `expected` (one-way sends run after the call returns)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await read() != expected:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.fixture
async def client(restate_env: RestateEnv) -> AsyncIterator[RestateClient]:
    async with restate.create_client(restate_env.ingress_url) as client:
        yield client


async def test_add_ticket_reserves_the_seat_for_this_cart(client: RestateClient):
    mary, seat = new("Mary"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    assert await client.object_call(cart_tickets, key=mary, arg=None) == [seat]
    assert await client.object_call(status, key=seat, arg=None) == "RESERVED"


async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    assert await client.object_call(add_ticket, key=john, arg=seat) is False
    assert await client.object_call(cart_tickets, key=john, arg=None) == []
    assert await client.object_call(checkout, key=john, arg=None) is False


async def test_checkout_charges_40_per_seat_and_sells_them(client: RestateClient):
    mary, seats = new("Mary"), [new("seat"), new("seat")]
    for seat in seats:
        await client.object_call(add_ticket, key=mary, arg=seat)

    assert await client.object_call(checkout, key=mary, arg=None) is True

    assert payments.amounts_charged(mary) == [80]
    assert await client.object_call(cart_tickets, key=mary, arg=None) == []
    for seat in seats:  # markAsSold is a one-way send: poll until it ran
        assert await eventually(lambda seat=seat: client.object_call(status, key=seat, arg=None), "SOLD"), seat


async def test_a_declined_card_keeps_the_cart_and_the_reservations(client: RestateClient):
    mary, seat = new("Mary"), new("seat")
    payments.decline_cards_of(mary)
    await client.object_call(add_ticket, key=mary, arg=seat)

    assert await client.object_call(checkout, key=mary, arg=None) is False

    assert payments.amounts_charged(mary) == []
    assert await client.object_call(cart_tickets, key=mary, arg=None) == [seat]
    assert await client.object_call(status, key=seat, arg=None) == "RESERVED"


async def test_the_checkout_service_alone(client: RestateClient):
    ann = new("Ann")
    assert await client.service_call(handle, arg={"user_id": ann, "tickets": ["a", "b", "c"]}) is True
    assert payments.amounts_charged(ann) == [120]


async def test_expire_ticket_sent_one_way_releases_the_seat(client: RestateClient):
    mary, seat = new("Mary"), new("seat")
    await client.object_call(add_ticket, key=mary, arg=seat)

    sent = await client.object_send(expire_ticket, key=mary, arg=seat)

    assert sent.invocation_id.startswith("inv_")
    assert await eventually(lambda: client.object_call(status, key=seat, arg=None), "AVAILABLE")
    assert await client.object_call(cart_tickets, key=mary, arg=None) == []


async def test_an_idempotency_key_returns_the_first_result(client: RestateClient):
    mary, seat, key = new("Mary"), new("seat"), new("request")
    assert await client.object_call(add_ticket, key=mary, arg=seat, idempotency_key=key) is True
    assert await client.object_call(add_ticket, key=mary, arg=seat, idempotency_key=key) is True
    assert await client.object_call(add_ticket, key=mary, arg=seat) is False
