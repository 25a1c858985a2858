"""images.py fails with LabErrors saying what to do, in the lab and in images/build_images.py alike.

A stand-in ``docker`` command that fails every call plays an engine that can neither pull nor build.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tourlab import ImageBuildError, ImageUnavailableError, LabError, ServerNotInstalledError, ServerStartError
from tourlab._config import PROJECT_ROOT
from tourlab._runtimes import images

pytestmark = pytest.mark.unit


@pytest.fixture
def failing_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\necho 'docker: no engine here' >&2\nexit 1\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return tmp_path


def test_no_image_and_no_binary_to_build_one_says_npm_ci(failing_docker: Path):
    root = failing_docker / "checkout"  # no node_modules: no stand-in can be built
    with pytest.raises(ImageUnavailableError, match=r"cannot be pulled \(docker: no engine here\).*npm ci") as raised:
        images.choose_restate_image(root, "1.7.12", "restatedev/restate:1.7.12", state_dir=failing_docker / "state")
    assert isinstance(raised.value, ServerStartError)
    assert isinstance(raised.value, LabError)


def test_a_failed_build_is_an_image_build_error(failing_docker: Path):
    stand_in = images.StandIn("restate", "tourlab-local/restate:test", "restatedev/restate:test", "r", "test")
    with pytest.raises(ImageBuildError, match="docker build of tourlab-local/restate:test failed: docker: no engine"):
        images.docker_build(stand_in, failing_docker / "Dockerfile", failing_docker, quiet=True)


def test_building_without_the_binary_says_how_to_install(tmp_path: Path):
    stand_in = images.StandIn("restate", "tourlab-local/restate:test", "restatedev/restate:test", "r", "test")
    with pytest.raises(ServerNotInstalledError, match="npm ci"):
        images.build_restate(tmp_path, stand_in)


def test_build_images_py_loads_images_py_and_its_errors_without_tourlab(tmp_path: Path):
    """The script's interpreter may lack tourlab's dependencies: images.py then loads its two modules by path."""
    script = f"""
import importlib.util, pathlib, sys
sys.modules["tourlab"] = None  # not importable, as under a bare python3
spec = importlib.util.spec_from_file_location("tourlab_images", {str(PROJECT_ROOT / "tourlab/_runtimes/images.py")!r})
shared = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = shared
spec.loader.exec_module(shared)
print(shared.restate_binary(pathlib.Path({str(PROJECT_ROOT)!r})))
try:
    shared.build_restate(pathlib.Path({str(tmp_path)!r}), None)
except RuntimeError as error:  # what build_images.py catches
    print(type(error).__name__, [kind.__name__ for kind in type(error).__mro__])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    binary, error = done.stdout.strip().splitlines()
    assert binary == str(images.restate_binary(PROJECT_ROOT))
    assert binary.endswith("/bin/restate-server")
    assert error.startswith("ServerNotInstalledError")
    assert "LabError" in error
