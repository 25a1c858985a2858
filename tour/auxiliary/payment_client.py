"""A pretend payment provider that records every charge attempt and every refund.

`call` succeeds unless `decline_payments` switched the provider to declining; a second request
with the key of a charge that went through is recognised and charges nothing (it is recorded
as a `repeat`). `flaky_call` fails the first attempts for each idempotency key, which is what a
real provider with a shaky network looks like; use it to watch Restate retry a `ctx.run` step
with the same idempotency key every time.

Two switches lose the provider's answer after the money was taken: `hold_answers` keeps it back
until released (take the endpoint down meanwhile, and the step never learns it paid), and
`lose_next_answers` makes the next answers of `charge` time out.

The saga chapter uses `charge` and `refund`: `charge` answers `CardDeclinedError` for users you
`decline`, and `fail_next_charges` / `fail_next_refunds` make the provider unreachable for a
while. `refund` is idempotent per key and a no-op when nothing was charged with that key.
"""

import asyncio
import threading
from dataclasses import dataclass

_lock = threading.Lock()
#: How many times flaky_call fails for each key before it charges (set_failures_per_key changes it).
_DEFAULT_FAILURES_PER_KEY = 2
_failures_per_key = _DEFAULT_FAILURES_PER_KEY
_failed_so_far: dict[str, int] = {}
_declined_users: set[str] = set()
_declining = False
_charge_outage = 0
_refund_outage = 0
_lost_answers = 0
_answers_released = threading.Event()
_answers_released.set()
_answers_held = 0


class CardDeclinedError(Exception):
    """The provider refused the charge: retrying will not change its mind."""


@dataclass(frozen=True)
class Charge:
    """One attempt to charge a customer."""

    idempotency_key: str
    amount: int
    succeeded: bool
    user_id: str | None = None
    #: A request with the key of a charge that went through: answered True, nothing charged again.
    repeat: bool = False


@dataclass(frozen=True)
class Refund:
    """Money given back for the charge made with `idempotency_key`."""

    idempotency_key: str
    amount: int


ledger: list[Charge | Refund] = []


async def call(idempotency_key: str, amount: int) -> bool:
    """Charge `amount` once per key: True if the payment went through, False if the provider declined it."""
    with _lock:
        repeat = _charged(idempotency_key)
        accepted = repeat or not _declining
        ledger.append(Charge(idempotency_key, amount, succeeded=accepted, repeat=repeat))
    if repeat:
        print(f"Payment with idempotency key {idempotency_key} was made before: not charged again")
    elif accepted:
        print(f"Paying {amount} with idempotency key {idempotency_key}")
    else:
        print(f"Payment of {amount} declined (idempotency key {idempotency_key})")
    await _answer()
    return accepted


def _charged(idempotency_key: str) -> bool:
    return any(
        isinstance(e, Charge) and e.succeeded and not e.repeat and e.idempotency_key == idempotency_key for e in ledger
    )


async def _answer() -> None:
    """Deliver the answer of a request that took the money, or lose it (see the switches below)."""
    global _answers_held, _lost_answers
    with _lock:
        lost, _lost_answers = _lost_answers > 0, max(_lost_answers - 1, 0)
        _answers_held += 1
    try:
        while not _answers_released.is_set():  # the caller's attempt may be cancelled meanwhile
            await asyncio.sleep(0.02)
    finally:
        with _lock:
            _answers_held -= 1
    if lost:
        raise TimeoutError("no answer from the payment provider")


def hold_answers(holding: bool = True) -> None:
    """Keep the answers of `call` and `charge` back (the money is taken) until ``hold_answers(False)``."""
    if holding:
        _answers_released.clear()
    else:
        _answers_released.set()


def answers_held() -> int:
    """How many requests took the money and still wait for their answer to be delivered."""
    with _lock:
        return _answers_held


def lose_next_answers(count: int) -> None:
    """Make the next `count` answers of `charge` time out after the charge went through."""
    global _lost_answers
    with _lock:
        _lost_answers = count


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


async def charge(idempotency_key: str, user_id: str, amount: int) -> bool:
    """Charge `user_id` once per idempotency key; raises CardDeclinedError or ConnectionError."""
    global _charge_outage
    with _lock:
        if _charge_outage > 0:
            _charge_outage -= 1
            ledger.append(Charge(idempotency_key, amount, succeeded=False, user_id=user_id))
            raise ConnectionError("payment provider unreachable")
        if user_id in _declined_users:
            ledger.append(Charge(idempotency_key, amount, succeeded=False, user_id=user_id))
            raise CardDeclinedError(f"card of {user_id} declined")
        if not _charged(idempotency_key):
            ledger.append(Charge(idempotency_key, amount, succeeded=True, user_id=user_id))
    print(f"Charged {user_id} {amount} with idempotency key {idempotency_key}")
    await _answer()
    return True


async def refund(idempotency_key: str) -> bool:
    """Refund the charge made with `idempotency_key`; False if there is nothing (left) to refund."""
    global _refund_outage
    with _lock:
        if _refund_outage > 0:
            _refund_outage -= 1
            raise ConnectionError("payment provider unreachable")
        if any(isinstance(e, Refund) and e.idempotency_key == idempotency_key for e in ledger):
            return False
        charged = [e for e in ledger if isinstance(e, Charge) and e.succeeded and e.idempotency_key == idempotency_key]
        if not charged:
            return False
        ledger.append(Refund(idempotency_key, charged[0].amount))
    print(f"Refunded {charged[0].amount} for idempotency key {idempotency_key}")
    return True


def set_failures_per_key(count: int) -> None:
    """Make `flaky_call` fail this many times for each new idempotency key."""
    global _failures_per_key
    with _lock:
        _failures_per_key = count


def decline(user_id: str) -> None:
    """Make every `charge` of this user fail with CardDeclinedError."""
    with _lock:
        _declined_users.add(user_id)


def fail_next_charges(count: int) -> None:
    """Make the next `count` calls to `charge` fail with ConnectionError (an outage; each is recorded)."""
    global _charge_outage
    with _lock:
        _charge_outage = count


def fail_next_refunds(count: int) -> None:
    """Make the next `count` calls to `refund` fail with ConnectionError (an outage)."""
    global _refund_outage
    with _lock:
        _refund_outage = count


def charges(idempotency_key: str | None = None) -> list[Charge]:
    """The recorded charge attempts, optionally only those made with one idempotency key."""
    with _lock:
        return [e for e in ledger if isinstance(e, Charge) and idempotency_key in (None, e.idempotency_key)]


def refunds() -> list[Refund]:
    """The recorded refunds."""
    with _lock:
        return [e for e in ledger if isinstance(e, Refund)]


def reset() -> None:
    """Forget all recorded charges and refunds, failures and their settings, outages, declined users, lost answers."""
    global _charge_outage, _refund_outage, _declining, _lost_answers, _failures_per_key
    _answers_released.set()
    with _lock:
        _lost_answers = 0
        ledger.clear()
        _failed_so_far.clear()
        _failures_per_key = _DEFAULT_FAILURES_PER_KEY
        _declined_users.clear()
        _charge_outage = 0
        _refund_outage = 0
        _declining = False
