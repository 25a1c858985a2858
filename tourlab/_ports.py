"""Free loopback ports that no other program is about to take.

A port picked now and bound later (by restate-server, Docker or a kernel) can be taken in
between. Two things make that unlikely:

- Ports come from outside the system's ephemeral range (below it, where there is room).
  ``bind((host, 0))``, which Jupyter uses to pick a kernel's ports, and outgoing connections only
  take ports inside that range.
- Each port handed out is reserved for :data:`HOLD_SECONDS` in a file shared by this user's
  processes, so two kernels (or two test workers) starting at once never get the same one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tourlab._process import locked

#: Long enough for the slowest program we start (a container) to bind the port it was given.
HOLD_SECONDS = 120.0
#: Where this user's processes record the ports they handed out (port -> until when, epoch seconds).
REGISTRY = Path(tempfile.gettempdir()) / f"tourlab-ports-{os.getuid() if hasattr(os, 'getuid') else 0}.json"
#: The lowest port we hand out; below it live many well-known services.
LOWEST = 20000
#: How many candidates to try before falling back to a port the system picks.
_TRIES = 64


def ephemeral_range() -> tuple[int, int]:
    """The ports the system gives out for ``bind(0)`` and outgoing connections."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return (49152, 65535)  # IANA's range, which macOS and Windows use


def candidate_ports() -> range:
    """Ports outside the ephemeral range; empty if the system gives out (almost) all of them."""
    low, high = ephemeral_range()
    if low - LOWEST >= 1000:
        return range(LOWEST, low)
    return range(high + 1, 65536) if 65535 - high >= 1000 else range(0)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on now and that no other lab process is handed for a while."""
    candidates = candidate_ports()
    if len(candidates):
        with _reservations() as reserved:
            now = time.time()
            for port in random.sample(candidates, min(_TRIES, len(candidates))):
                if reserved.get(str(port), 0.0) < now and _bindable(host, port):
                    reserved[str(port)] = now + HOLD_SECONDS
                    return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def bind_listener(host: str, port: int) -> socket.socket:
    """Bind and listen on (host, port) now, so a port clash surfaces in the caller's thread.

    Port 0 means a port from :func:`free_port`; a clash with a program that took it meanwhile
    is retried with another one.
    """
    for _attempt in range(5 if port == 0 else 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port or free_port(host)))
        except OSError as error:
            sock.close()
            if port or error.errno != errno.EADDRINUSE:
                raise
            continue
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    raise OSError(errno.EADDRINUSE, "no free port found after five tries")


def _bindable(host: str, port: int) -> bool:
    """True if (host, port) can be bound now, without SO_REUSEADDR (so TIME_WAIT counts as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def _reservations() -> Iterator[dict[str, float]]:
    """The shared reservations, locked for the caller; expired ones are dropped when written back."""
    with locked(REGISTRY) as registry:
        try:
            reserved = {k: float(v) for k, v in json.loads(registry.read() or "{}").items()}
        except (ValueError, AttributeError, TypeError):
            reserved = {}  # a damaged registry only costs the reservations it held
        yield reserved
        now = time.time()
        registry.seek(0)
        registry.truncate()
        registry.write(json.dumps({k: v for k, v in reserved.items() if v > now}))
