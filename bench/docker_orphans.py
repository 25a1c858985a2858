"""Benchmark: SIGKILL 10 kernels in docker mode; how many Restate containers are left, and for how long?

Each "kernel" is a Python process in its own session (as Jupyter starts kernels) running a real
``Lab.start()`` with ``TOURLAB_RUNTIME=docker``. Half are killed once their lab is ready, the
other half while it starts (a moment after the runtime launched its reaper, so some die with a
container create in flight). The whole process group gets SIGKILL, as nbval and Jupyter do.
We then watch the engine until no container of those kernels is left.

Run: ``.venv/bin/python bench/docker_orphans.py [--kernels 10] [--timeout 60]``
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tourlab._config import PROJECT_ROOT
from tourlab._runtimes.docker import OWNER_PID_LABEL, REAPER_SCRIPT

KERNEL = textwrap.dedent(
    """
    import sys, time
    from tourlab import Lab
    lab = Lab.start("tour/part1")
    assert lab.call("CartObject", "Mary", "addTicket", "seat2B") is True
    print("ready", lab.runtime.name, flush=True)
    time.sleep(3600)
    """
)


@dataclass
class OrphanRun:
    """What happened to the containers of the killed kernels."""

    kernels: int
    killed_ready: int
    killed_starting: int
    #: Containers of those kernels when the last kill was about to be sent.
    containers_at_kill: int
    left: list[str] = field(default_factory=list)
    #: The kernels' process ids (their containers and reapers are labelled with them).
    pids: list[int] = field(default_factory=list)
    seconds_until_gone: float | None = None
    reapers_left: int = 0


def kernel_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTATE_", "TOURLAB_"))}
    return {**env, "TOURLAB_RUNTIME": "docker", "TOURLAB_HOME": str(home)}


def containers_of(pids: list[int]) -> list[str]:
    """Names of the containers (running or not) labelled with one of these owner pids."""
    names: list[str] = []
    for pid in pids:
        listed = subprocess.run(
            ["docker", "ps", "-a", "--filter", f"label={OWNER_PID_LABEL}={pid}", "--format", "{{.Names}}"],
            capture_output=True,
            text=True,
            check=False,
        )
        names += listed.stdout.split()
    return names


def reapers_of(pids: list[int]) -> list[psutil.Process]:
    """Reaper processes started for these kernels (their command line names the owner pid)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if str(REAPER_SCRIPT) in cmdline and any(str(pid) in cmdline for pid in pids):
            found.append(process)
    return found


def _has_reaper(pid: int) -> bool:
    try:
        return any(str(REAPER_SCRIPT) in child.cmdline() for child in psutil.Process(pid).children())
    except psutil.Error:
        return False


def kill_kernels(kernels: int = 10, *, timeout: float = 60.0, start_timeout: float = 300.0) -> OrphanRun:
    """Start `kernels` docker-mode labs, SIGKILL them (half ready, half starting), watch their containers."""
    with tempfile.TemporaryDirectory(prefix="tourlab-orphans-") as home:
        env = kernel_env(Path(home))
        starting_count = kernels // 2
        processes: list[subprocess.Popen[str]] = []
        try:
            ready = [_spawn(env, Path(home) / f"kernel-{n}.err") for n in range(kernels - starting_count)]
            processes += ready
            for number, process in enumerate(ready):
                line = process.stdout.readline() if process.stdout else ""
                if not line.startswith("ready"):
                    process.wait()
                    said = (Path(home) / f"kernel-{number}.err").read_text()[-3000:]
                    raise RuntimeError(f"a kernel did not get ready (exit code {process.returncode}):\n{said}")
            starting = [_spawn(env, Path(home) / f"starting-{n}.err") for n in range(starting_count)]
            processes += starting
            pids = [process.pid for process in processes]
            # Kill the starting ones a little after their reaper appears: a container create may be in flight.
            deadline = time.monotonic() + start_timeout
            for number, process in enumerate(starting):
                while not _has_reaper(process.pid) and process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(0.04 * number)
                os.killpg(process.pid, signal.SIGKILL)
            at_kill = containers_of(pids)
            killed_at = time.monotonic()
            for process in ready:
                os.killpg(process.pid, signal.SIGKILL)
            for process in processes:
                process.wait()
            left = containers_of(pids)
            while left and time.monotonic() - killed_at < timeout:
                time.sleep(0.1)
                left = containers_of(pids)
            gone_after = None if left else time.monotonic() - killed_at
            return OrphanRun(
                kernels, len(ready), len(starting), len(at_kill), left, pids, gone_after, len(reapers_of(pids))
            )
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _spawn(env: dict[str, str], errors: Path) -> subprocess.Popen[str]:
    """A kernel whose stderr goes to `errors` (read back when it fails to get ready)."""
    with errors.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", KERNEL],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,  # like a Jupyter kernel: killed as a process group
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the containers to go")
    options = parser.parse_args()
    run = kill_kernels(options.kernels, timeout=options.timeout)
    gone = f"{run.seconds_until_gone:.1f} s" if run.seconds_until_gone is not None else f"> {options.timeout:.0f} s"
    print("| kernels SIGKILLed | ready / starting | containers at kill | left | all gone after |")
    print("|---|---|---|---|---|")
    print(
        f"| {run.kernels} | {run.killed_ready} / {run.killed_starting} | {run.containers_at_kill} "
        f"| {len(run.left)} | {gone} |"
    )
    if run.left:
        print("left:", " ".join(run.left))


if __name__ == "__main__":
    main()
