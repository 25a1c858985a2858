"""The Docker engine for the classroom: does one answer, and is the lab image there (built if not).

``./course hub`` isolates learners with the docker spawner whenever an engine answers; regrades
run in containers of the same lab image.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tourlab import PROJECT_ROOT

#: Seconds the engine has to answer ``docker info`` before the class falls back to the local spawner.
PING_TIMEOUT = 15.0


def docker_answers() -> bool:
    """Whether a Docker engine answers here (``docker info``)."""
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=PING_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def choose_spawner() -> str:
    """``docker`` when an engine answers, else ``local``."""
    return "docker" if docker_answers() else "local"


def image_id(image: str) -> str | None:
    """The id of a local image, or None if there is none of that name."""
    command = ["docker", "image", "inspect", "--format={{.Id}}", image]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_lab_image(image: str, work_dir: Path, *, refresh: bool = False) -> bool:
    """Build the lab image from this repository's Dockerfile if it is missing; True if it was built.

    With ``refresh`` it is built again even if it exists (Docker's layer cache makes that quick
    for an unchanged tree), so it holds the code of this checkout; the image it replaced is
    removed. The base images come from ``images/build_images.py`` (pulled, or built here as local
    stand-ins where no registry answers). A failed step raises ``RuntimeError`` with its last lines.
    """
    old = image_id(image)
    if old is not None and not refresh:
        return False
    work_dir.mkdir(parents=True, exist_ok=True)
    env_file = work_dir / "images.env"
    print(f"Building the lab image {image} (once; several minutes)", flush=True)  # noqa: T201
    _run([sys.executable, str(PROJECT_ROOT / "images" / "build_images.py"), "--env-file", str(env_file)])
    bases = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    _run(
        [
            "docker", "build", "-t", image,
            "--build-arg", f"NODE_IMAGE={bases['TOURLAB_NODE_IMAGE']}",
            "--build-arg", f"PYTHON_IMAGE={bases['TOURLAB_PYTHON_IMAGE']}",
            str(PROJECT_ROOT),
        ]
    )  # fmt: skip
    if old is not None and image_id(image) != old:  # the replaced build, untagged now
        subprocess.run(["docker", "rmi", old], capture_output=True, timeout=120, check=False)
    return True


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-20:]
        raise RuntimeError(f"{' '.join(command[:3])} … failed with {done.returncode}:\n" + "\n".join(tail))
