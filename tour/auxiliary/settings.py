"""Settings the tour app reads at call time, so tests and notebooks can shorten timers."""

import os
from datetime import timedelta

DEFAULT_RESERVATION_SECONDS = 15 * 60
DEFAULT_PAYMENT_SECONDS = 10 * 60
TICKET_PRICE = 40


def _seconds(variable: str, default: float) -> timedelta:
    return timedelta(seconds=float(os.environ.get(variable, default)))


def reservation_ttl() -> timedelta:
    """How long a seat stays reserved in a cart (15 minutes unless TOUR_RESERVATION_SECONDS is set)."""
    return _seconds("TOUR_RESERVATION_SECONDS", DEFAULT_RESERVATION_SECONDS)


def payment_timeout() -> timedelta:
    """How long a checkout waits for the payment (10 minutes unless TOUR_PAYMENT_TIMEOUT_SECONDS is set)."""
    return _seconds("TOUR_PAYMENT_TIMEOUT_SECONDS", DEFAULT_PAYMENT_SECONDS)
