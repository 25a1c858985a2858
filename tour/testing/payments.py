"""A pretend card processor with a switch to decline a user's card (shared by every shop version)."""

import threading
from dataclasses import dataclass

_lock = threading.Lock()
_declined_users: set[str] = set()


@dataclass(frozen=True)
class Charge:
    idempotency_key: str
    user_id: str
    amount: int


charges: list[Charge] = []
refunds: list[Charge] = []


def charge(idempotency_key: str, user_id: str, amount: int) -> bool:
    """Charge `user_id` once per idempotency key; False if the user's card is declined."""
    with _lock:
        if user_id in _declined_users:
            print(f"Card of {user_id} declined ({amount})")
            return False
        if all(c.idempotency_key != idempotency_key for c in charges):
            charges.append(Charge(idempotency_key, user_id, amount))
    print(f"Charged {user_id} {amount}")
    return True


def decline_cards_of(user_id: str) -> None:
    """Decline every payment of `user_id` from now on."""
    with _lock:
        _declined_users.add(user_id)


def amounts_charged(user_id: str) -> list[int]:
    """What `user_id` was charged, oldest first."""
    with _lock:
        return [c.amount for c in charges if c.user_id == user_id]


def refund(idempotency_key: str, user_id: str, amount: int) -> None:
    """Pay `amount` back to `user_id`. Not idempotent, like many real refund APIs: each call pays out."""
    with _lock:
        refunds.append(Charge(idempotency_key, user_id, amount))
    print(f"Refunded {user_id} {amount}")


def amounts_refunded(user_id: str) -> list[int]:
    """What `user_id` was paid back, oldest first."""
    with _lock:
        return [r.amount for r in refunds if r.user_id == user_id]
