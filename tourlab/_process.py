"""Child processes that never outlive the Python process that owns them.

The child runs in its own session, so Jupyter's interrupt (SIGINT to the kernel's process
group) does not reach it. On Linux the kernel delivers SIGKILL to the child when its parent
dies, whatever the cause (kernel restart, crash, SIGKILL); elsewhere a small watchdog
process does the same by polling the owner.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1

# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so every child is
# forked from one long-lived daemon thread instead of whichever thread asked.
_spawner = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tourlab-spawner")


# Loaded up front: loading a library between fork and exec is not safe in a threaded parent.
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None) if sys.platform.startswith("linux") else None


def _die_with_parent(owner_pid: int) -> None:  # runs in the child between fork and exec
    assert _libc is not None
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != owner_pid:  # the owner died before prctl took effect
        os._exit(1)


def spawn_owned(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, logging to `log`, killed when this process dies."""
    owner = os.getpid()
    if sys.platform.startswith("linux"):
        command = list(argv)

        def preexec() -> None:
            _die_with_parent(owner)

    else:
        command = [sys.executable, "-m", "tourlab._watchdog", str(owner), "--", *argv]
        preexec = None  # type: ignore[assignment]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - only calls prctl, forked from one thread
        )

    return _spawner.submit(start).result()


def terminate(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stop a child gracefully (SIGTERM), then forcefully after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def start_mark(pid: int) -> str | None:
    """When process `pid` started, as a mark that changes only if the pid is reused (None: no such process).

    On Linux it is the kernel's count of clock ticks from boot to the start: psutil's ``create_time``
    adds the boot time read from the wall clock, so a clock step (NTP, a resumed VM) changes it and a
    live owner would look gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return "ticks:" + stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        pass
    import psutil

    try:
        return f"{psutil.Process(pid).create_time():.3f}"
    except psutil.Error:
        return None


def still_running(pid: int, mark: object) -> bool:
    """Whether `pid` is alive and is still the process that `mark` (from ``start_mark``) was taken of."""
    return pid_alive(pid) and start_mark(pid) == mark


@contextlib.contextmanager
def locked(path: Path) -> Iterator[IO[str]]:
    """`path` open for reading and writing (created if missing), locked against this user's other processes.

    Without ``fcntl`` (Windows) nothing is locked: callers must tolerate a rare duplicate.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as file:
        try:
            import fcntl
        except ImportError:
            yield file
            return
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        yield file
