"""A pretend e-mail sender: it prints and remembers what it sent."""

import threading

_lock = threading.Lock()
_failures_left = 0
outbox: list[tuple[str, str]] = []


def _send(user_id: str, subject: str) -> bool:
    global _failures_left
    with _lock:
        if _failures_left > 0:
            _failures_left -= 1
            raise ConnectionError("mail server unreachable")
        outbox.append((user_id, subject))
    print(f"E-mail to {user_id}: {subject}")
    return True


def notify_user_of_payment_success(user_id: str) -> bool:
    """Tell the user their tickets are paid."""
    return _send(user_id, "payment succeeded")


def notify_user_of_payment_failure(user_id: str) -> bool:
    """Tell the user the payment did not go through."""
    return _send(user_id, "payment failed")


def send_tickets(user_id: str, tickets: list[str]) -> bool:
    """Send the user their tickets."""
    return _send(user_id, f"your tickets: {', '.join(tickets)}")


def fail_next(count: int) -> None:
    """Make the next `count` e-mails fail, to simulate an outage after the payment."""
    global _failures_left
    with _lock:
        _failures_left = count


def reset() -> None:
    """Empty the outbox and cancel pending failures."""
    global _failures_left
    with _lock:
        outbox.clear()
        _failures_left = 0
