"""A pretend mail server for the tickets, with a switch to make a user's address bounce."""

import threading

from restate import TerminalError

_lock = threading.Lock()
_bouncing: set[str] = set()
sent: list[tuple[str, list[str]]] = []


def send_tickets(user_id: str, tickets: list[str]) -> None:
    """Mail the tickets; a bouncing address is a TerminalError (retrying cannot help)."""
    with _lock:
        if user_id in _bouncing:
            raise TerminalError(f"the address of {user_id} bounces", status_code=422)
        sent.append((user_id, tickets))


def bounce_mails_of(user_id: str) -> None:
    """Every mail to `user_id` bounces from now on."""
    with _lock:
        _bouncing.add(user_id)
