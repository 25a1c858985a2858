"""What both versions share: the order shape, the price and how long a checkout waits."""

import os
from datetime import timedelta
from typing import TypedDict

TICKET_PRICE = 40
DEFAULT_SETTLE_SECONDS = 10.0


class Order(TypedDict):
    user_id: str
    tickets: list[str]


class Receipt(TypedDict):
    version: str
    total: int


def settle_time() -> timedelta:
    """How long a checkout sleeps mid-way (10 s unless TOUR_SETTLE_SECONDS is set)."""
    return timedelta(seconds=float(os.environ.get("TOUR_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS)))


def price_of(tickets: list[str]) -> int:
    """The price of some tickets."""
    return len(tickets) * TICKET_PRICE
