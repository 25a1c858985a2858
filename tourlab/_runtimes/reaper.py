"""Remove a kernel's Restate container once the kernel is gone, however it went.

    python tourlab/_runtimes/reaper.py OWNER_PID CONTAINER_NAME      (or: python -m tourlab._runtimes.reaper ...)

The Docker runtime starts one reaper per container *before* creating the container, detached
from the kernel (own session, no stdio), so neither Jupyter's interrupt nor a SIGKILL of the
kernel's process group reaches it. It sleeps until the owner exits (a pidfd on Linux, kqueue on
macOS: no polling; elsewhere a check every half second), then removes the container by name.
It keeps removing for ``KEEP_REMOVING`` seconds, because a ``create`` the dead kernel had already
sent may still bring the container into being after the first removal. A lab that stops cleanly
removes its container itself and then terminates its reaper.

Only the standard library is imported while waiting (about 10 MB); the Docker client is
imported once there is work to do. Run it by path: ``-m`` would import the whole tourlab package.
"""

from __future__ import annotations

import os
import select
import sys
import time

#: How long, after the owner died, the container name is still removed whenever it shows up.
KEEP_REMOVING = 15.0
REMOVE_EVERY = 1.0


def wait_for_exit(pid: int) -> None:
    """Return once process `pid` has exited (at once if it already has)."""
    if sys.platform == "linux":
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            select.select([handle], [], [])  # readable when the process exits
        finally:
            os.close(handle)
    elif sys.platform == "darwin":
        queue = select.kqueue()
        event = select.kevent(pid, filter=select.KQ_FILTER_PROC, flags=select.KQ_EV_ADD, fflags=select.KQ_NOTE_EXIT)
        try:
            queue.control([event], 1, None)
        except ProcessLookupError:
            return
        finally:
            queue.close()
    else:
        while _alive(pid):
            time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_repeatedly(name: str, *, keep_removing: float = KEEP_REMOVING) -> int:
    """Remove container `name` (with its anonymous volumes) now and whenever it reappears; returns removals."""
    import docker
    from docker.errors import APIError, NotFound

    client = docker.from_env(timeout=30)
    removed = 0
    deadline = time.monotonic() + keep_removing
    while True:
        try:
            client.api.remove_container(name, force=True, v=True)
            removed += 1
        except NotFound:
            pass
        except APIError:  # e.g. "removal already in progress": the next round sees it gone
            pass
        if time.monotonic() >= deadline:
            return removed
        time.sleep(REMOVE_EVERY)


def main(argv: list[str]) -> int:
    owner, name = int(argv[0]), argv[1]
    wait_for_exit(owner)
    remove_repeatedly(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
