"""The whole course in docker mode: every notebook under nbval, each kernel with its own Restate container.

Outputs that differ by runtime (the runtime's name in a section's header, ``host.docker.internal``
in the endpoint URL) are sanitized by ``notebooks/sanitize.cfg``, never ignored.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker as docker_sdk
import pytest
from support import needs_docker_engine

from tourlab import _config
from tourlab._runtimes.docker import sweep_orphans

pytestmark = [pytest.mark.docker, needs_docker_engine]


def test_every_notebook_passes_nbval_in_docker_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTATE_", "TOURLAB_", "PYTEST_"))}
    env |= {"TOURLAB_RUNTIME": "docker", "TOURLAB_HOME": str(tmp_path / "home")}
    sanitizer = _config.PROJECT_ROOT / "notebooks" / "sanitize.cfg"
    command = [sys.executable, "-m", "pytest", "--nbval", "notebooks/", "-p", "no:cacheprovider", "-q", "-n0"]
    command += ["--nbval-sanitize-with", str(sanitizer)]
    try:
        done = subprocess.run(
            command, cwd=_config.PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False
        )
    finally:
        client = docker_sdk.from_env()
        sweep_orphans(client)  # kernels that nbval killed: their reapers do this too
        client.close()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
