"""Keep handler prints and SDK logs out of notebook cells: they go to the endpoint log file.

Handlers run on the endpoint's thread (and its executor threads for ``ctx.run``). Jupyter
would show their output in whichever cell happens to be running, so writes from those
threads are diverted to a file the lab can show on request.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from pathlib import Path
from typing import TextIO

from tourlab._process import pid_alive

ENDPOINT_THREAD_PREFIX = "tourlab-endpoint"


def in_endpoint_thread() -> bool:
    """Whether the current thread belongs to the lab's endpoint."""
    return threading.current_thread().name.startswith(ENDPOINT_THREAD_PREFIX)


class _ThreadRoutedStream(io.TextIOBase):
    """A text stream that writes endpoint threads' output to a file, everything else through."""

    def __init__(self, passthrough: TextIO, sink: TextIO) -> None:
        self.passthrough = passthrough
        self.sink = sink

    def write(self, text: str) -> int:
        target = self.sink if in_endpoint_thread() else self.passthrough
        written = target.write(text)
        if target is self.sink:
            self.sink.flush()
        return written if isinstance(written, int) else len(text)

    def flush(self) -> None:
        self.passthrough.flush()
        self.sink.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.passthrough, name)


def clean_stale_logs(log_dir: Path) -> None:
    """Delete endpoint logs (``endpoint-<pid>.log``) of processes that no longer run."""
    for log in log_dir.glob("endpoint-*.log"):
        pid = log.stem.removeprefix("endpoint-")
        if pid.isdigit() and not pid_alive(int(pid)):
            log.unlink(missing_ok=True)


class EndpointLog:
    """The file that receives handler output, SDK and Hypercorn logs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_logs(path.parent)
        self._file = path.open("a", buffering=1, encoding="utf-8")
        self._handler = logging.StreamHandler(self._file)
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self._loggers = [logging.getLogger(name) for name in ("restate", "hypercorn.error")]

    def install(self) -> None:
        """Divert endpoint-thread output and the SDK's loggers to the file (idempotent)."""
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if isinstance(current, _ThreadRoutedStream):
                current.sink = self._file
            else:
                setattr(sys, name, _ThreadRoutedStream(current, self._file))
        for logger in self._loggers:
            if self._handler not in logger.handlers:
                logger.addHandler(self._handler)
            logger.propagate = False

    def uninstall(self) -> None:
        """Put the original streams and logger settings back."""
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if isinstance(current, _ThreadRoutedStream) and current.sink is self._file:
                setattr(sys, name, current.passthrough)
        for logger in self._loggers:
            logger.removeHandler(self._handler)
            logger.propagate = True
        self._file.close()


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file ('' if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
