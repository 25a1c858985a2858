"""Small helpers shared by the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from tourlab import Lab
from tourlab._config import PROJECT_ROOT

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; returns that value (or the last falsy one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def invocation_of(lab: Lab, target: str, timeout: float = 10.0) -> str:
    """The id of the newest invocation of `target` (e.g. ``CartObject/Mary/expireTicket``), once it exists."""

    def newest() -> str | None:
        found = lab.invocations(target=target, limit=1)
        return found[0].id if found else None

    invocation_id = eventually(newest, timeout)
    assert invocation_id, f"no invocation of {target} appeared"
    return invocation_id


# -- Docker ------------------------------------------------------------------------------------------


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``docker ARGS`` with its output captured (failures are returned, not raised)."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def docker_engine_answers() -> bool:
    """Whether the ``docker`` command line reaches an engine."""
    return shutil.which("docker") is not None and docker("info", timeout=30).returncode == 0


needs_docker_engine = pytest.mark.skipif(
    not docker_engine_answers(),
    reason="no Docker engine answers here (`docker info` failed); `./course test` starts one as root on Debian",
)


@dataclass
class BuiltImages:
    """What docker/build_images.py printed and wrote into its env file."""

    log: str
    settings: dict[str, str]


def build_images(env_file: Path) -> BuiltImages:
    """Run docker/build_images.py: pull the pinned images or build the local stand-ins."""
    built = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "docker" / "build_images.py"), "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    lines = env_file.read_text().splitlines()
    return BuiltImages(built.stdout, dict(line.split("=", 1) for line in lines if line and not line.startswith("#")))


def pulled_or_skip(image: str) -> None:
    """Skip the test unless `image` is here or can be pulled."""
    if docker("image", "inspect", image).returncode == 0:
        return
    pulled = docker("pull", image, timeout=300)
    if pulled.returncode != 0:
        pytest.skip(f"{image} cannot be pulled here: {(pulled.stderr.strip().splitlines() or ['failed'])[-1]}")
