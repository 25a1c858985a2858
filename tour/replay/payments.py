"""A pretend payment provider that deduplicates by idempotency key, like real ones do."""

import threading

_lock = threading.Lock()
#: idempotency key -> amount charged
ledger: dict[str, int] = {}


def charge(idempotency_key: str, amount: int) -> bool:
    """Charge `amount` once per key; a repeated key returns the first result without charging."""
    with _lock:
        if idempotency_key in ledger:
            print(f"Payment {idempotency_key} seen before: not charged again")
            return True
        ledger[idempotency_key] = amount
    print(f"Charged {amount} with key {idempotency_key}")
    return True


def reset() -> None:
    """Forget every charge."""
    with _lock:
        ledger.clear()
