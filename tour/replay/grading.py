"""Check a DiscountCheckout implementation for the replay bugs of the exercise.

Run it against a Restate that replays at every step (and best fails fast: `create_runtime(...,
always_replay=True, fail_fast=True)`): then every step replays the handler, and a non-deterministic
checkout shows on the first orders.
"""

from collections.abc import Callable

from tour.replay import payments
from tour.replay.shop import TICKET_PRICE, Order, Receipt

USERS = ("Mary", "John", "Ann")
ORDERS = 20
#: With this many orders, all-discounted or none-discounted by chance is unlikely (< 1 in 500).
ENOUGH_TO_SEE_BOTH = 10


def check_checkout(place_order: Callable[[Order], Receipt], orders: int = ORDERS) -> list[str]:
    """Place `orders` orders through `place_order`; return what went wrong (empty: all good)."""
    payments.reset()
    problems: list[str] = []
    receipts: list[tuple[Order, Receipt]] = []
    for number in range(orders):
        order: Order = {
            "user_id": USERS[number % len(USERS)],
            "tickets": [f"seat-{number}-{n}" for n in range(1 + number % 3)],
        }
        try:
            receipts.append((order, place_order(order)))
        except Exception as error:  # noqa: BLE001 - any failure of the handler is a finding
            problems.append(f"order {number} failed: {error}")
    charged = dict(payments.ledger)
    for number, (order, receipt) in enumerate(receipts):
        key = receipt["payment_key"]
        if key not in charged:
            problems.append(f"order {number}: the receipt's payment key {key} was never charged")
        elif charged[key] != receipt["amount"]:
            problems.append(f"order {number}: receipt says {receipt['amount']}, the provider charged {charged[key]}")
        full = len(order["tickets"]) * TICKET_PRICE
        if receipt["amount"] not in (full, full * 8 // 10):
            problems.append(f"order {number}: amount {receipt['amount']} is neither {full} nor 20% off")
    keys = [receipt["payment_key"] for _, receipt in receipts]
    if len(set(keys)) < len(keys):
        problems.append(f"{len(keys)} orders used only {len(set(keys))} payment keys: repeated keys are not charged")
    discounted = {receipt["amount"] < len(order["tickets"]) * TICKET_PRICE for order, receipt in receipts}
    if len(receipts) >= ENOUGH_TO_SEE_BOTH and len(discounted) < 2:
        problems.append("every order got the same discount decision: the draw is no longer random")
    return problems
