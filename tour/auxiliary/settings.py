"""Settings the tour app reads at call time, so tests and notebooks can shorten timers."""

import os
from datetime import timedelta

DEFAULT_RESERVATION_SECONDS = 15 * 60
TICKET_PRICE = 40


def reservation_ttl() -> timedelta:
    """How long a seat stays reserved in a cart (15 minutes unless TOUR_RESERVATION_SECONDS is set)."""
    seconds = float(os.environ.get("TOUR_RESERVATION_SECONDS", DEFAULT_RESERVATION_SECONDS))
    return timedelta(seconds=seconds)
