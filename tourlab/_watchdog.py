"""Run a command and kill it when the owning process goes away (for systems without prctl).

Usage: ``python -m tourlab._watchdog OWNER_PID -- COMMAND [ARGS...]``
"""

from __future__ import annotations

import signal
import subprocess
import sys

from tourlab._process import pid_alive
from tourlab._wait import poll


def main(argv: list[str]) -> int:
    owner = int(argv[0])
    command = argv[argv.index("--") + 1 :]
    child = subprocess.Popen(command)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    poll(lambda: child.poll() is not None or not pid_alive(owner), timeout=float("inf"), interval=0.5)
    if child.poll() is None:
        child.kill()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
