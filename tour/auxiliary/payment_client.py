"""A pretend payment provider that records every charge attempt.

`call` succeeds unless `decline_payments` switched the provider to declining. `flaky_call`
fails the first attempts for each idempotency key, which is what a real provider with a shaky
network looks like; use it to watch Restate retry a `ctx.run` step with the same idempotency
key every time.
"""

import threading
from dataclasses import dataclass

_lock = threading.Lock()
_failures_per_key = 2
_failed_so_far: dict[str, int] = {}
_declining = False


@dataclass(frozen=True)
class Charge:
    """One attempt to charge a customer."""

    idempotency_key: str
    amount: int
    succeeded: bool


ledger: list[Charge] = []


async def call(idempotency_key: str, amount: int) -> bool:
    """Charge `amount`: True if the payment went through, False if the provider declined it."""
    with _lock:
        accepted = not _declining
        ledger.append(Charge(idempotency_key, amount, succeeded=accepted))
    if accepted:
        print(f"Paying {amount} with idempotency key {idempotency_key}")
    else:
        print(f"Payment of {amount} declined (idempotency key {idempotency_key})")
    return accepted


def decline_payments(declining: bool = True) -> None:
    """Make `call` decline every payment (return False) until switched back with ``decline_payments(False)``."""
    global _declining
    with _lock:
        _declining = declining


async def flaky_call(idempotency_key: str, amount: int) -> bool:
    """Charge `amount`, failing the first attempts for each idempotency key."""
    with _lock:
        failed = _failed_so_far.get(idempotency_key, 0)
        if failed < _failures_per_key:
            _failed_so_far[idempotency_key] = failed + 1
            ledger.append(Charge(idempotency_key, amount, succeeded=False))
            attempt = failed + 1
        else:
            attempt = 0
    if attempt:
        print(f"Payment provider unreachable (attempt {attempt}) for key {idempotency_key}")
        raise ConnectionError("payment provider unreachable")
    return await call(idempotency_key, amount)


def set_failures_per_key(count: int) -> None:
    """Make `flaky_call` fail this many times for each new idempotency key."""
    global _failures_per_key
    with _lock:
        _failures_per_key = count


def charges(idempotency_key: str | None = None) -> list[Charge]:
    """The recorded attempts, optionally only those made with one idempotency key."""
    with _lock:
        return [c for c in ledger if idempotency_key in (None, c.idempotency_key)]


def reset() -> None:
    """Forget all recorded charges and failure counts, and accept payments again."""
    global _declining
    with _lock:
        ledger.clear()
        _failed_so_far.clear()
        _declining = False
