"""A pretend asynchronous payment provider: you ask it to collect a payment, it answers later.

It is told where to report back. In the workflow chapter that is the workflow id and nothing
answers by itself: you play the provider and call ``confirmPayment``. With
`request_payment_with_callback` it is an awakeable id, and the provider resolves (or, for a
declined user, rejects) that awakeable through Restate's ingress from a background thread,
``TOUR_PROVIDER_DELAY_SECONDS`` (default 2) after the request.
"""

import os
import threading
import uuid
from dataclasses import dataclass

import httpx

DEFAULT_DELAY_SECONDS = 2.0

_lock = threading.Lock()
_declined_users: set[str] = set()
_answers: list[threading.Timer] = []


@dataclass(frozen=True)
class PaymentRequest:
    """One request to collect money, and where the answer goes."""

    callback: str
    user_id: str
    amount: int


requests: list[PaymentRequest] = []


def request_payment(callback: str, user_id: str, amount: int) -> bool:
    """Record a request to collect `amount` from `user_id`; the answer goes to `callback` later."""
    print(f"Payment of {amount} requested for {user_id}; answer to {callback}")
    with _lock:
        requests.append(PaymentRequest(callback, user_id, amount))
    return True


def request_payment_with_callback(awakeable_id: str, user_id: str, amount: int) -> bool:
    """Record the request and answer it through Restate's ingress after the configured delay."""
    ingress_url = os.environ.get("RESTATE_INGRESS_URL")
    if not ingress_url:
        raise RuntimeError("RESTATE_INGRESS_URL is not set: the provider cannot reach Restate")
    request_payment(awakeable_id, user_id, amount)
    delay = float(os.environ.get("TOUR_PROVIDER_DELAY_SECONDS", DEFAULT_DELAY_SECONDS))
    with _lock:
        declined = user_id in _declined_users
        answer = threading.Timer(delay, _answer, args=(ingress_url, awakeable_id, amount, declined))
        answer.daemon = True
        _answers.append(answer)
    answer.start()
    return True


def _answer(ingress_url: str, awakeable_id: str, amount: int, declined: bool) -> None:
    base = f"{ingress_url.rstrip('/')}/restate/awakeables/{awakeable_id}"
    status: int | None = None
    try:
        if declined:
            response = httpx.post(f"{base}/reject", content="card declined", headers={"content-type": "text/plain"})
        else:
            payment = {"payment_id": f"pay-{uuid.uuid4().hex[:8]}", "amount": amount}
            response = httpx.post(f"{base}/resolve", json=payment)
        status = response.status_code
    except httpx.TransportError:
        pass  # Restate is gone (its lab was stopped): the answer is lost, as a real provider's would be
    with _lock:  # recorded, not printed: this thread is the provider's, and a print lands in any cell
        answered.append((awakeable_id, status))


#: The answers the provider sent back: (awakeable id, HTTP status of Restate's ingress, None when
#: Restate could not be reached).
answered: list[tuple[str, int | None]] = []


def decline(user_id: str) -> None:
    """Make the provider reject every payment of this user."""
    with _lock:
        _declined_users.add(user_id)


def reset() -> None:
    """Forget recorded requests and declined users, and drop answers not sent yet."""
    with _lock:
        for answer in _answers:
            answer.cancel()
        _answers.clear()
        answered.clear()
        requests.clear()
        _declined_users.clear()
