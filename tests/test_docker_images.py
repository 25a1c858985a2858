"""images/build_images.py for real: the pinned images, or local stand-ins where they cannot be pulled.

Stand-ins are named ``tourlab-local/...`` and labelled ``org.restate-tour-lab``; the official names
are never tagged here. The builder's second run builds nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from support import BuiltImages, build_images, docker, eventually, needs_docker_engine

from tourlab import _config

pytestmark = [pytest.mark.docker, needs_docker_engine]

LABEL = "org.restate-tour-lab"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltImages:
    return build_images(tmp_path_factory.mktemp("compose") / "compose.env")


def labels(image: str) -> dict[str, str]:
    found = docker("image", "inspect", "--format", "{{json .Config.Labels}}", image)
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout) or {}


def test_images_are_the_pinned_ones_or_clearly_local_stand_ins(built: BuiltImages) -> None:
    images = {name: value for name, value in built.settings.items() if name.endswith("_IMAGE")}
    assert {"TOURLAB_RESTATE_IMAGE", "TOURLAB_PYTHON_IMAGE", "TOURLAB_NODE_IMAGE"} <= set(images)
    for name, image in images.items():
        if image.startswith("tourlab-local/"):
            if name != "TOURLAB_LAB_IMAGE":  # compose builds the lab image
                assert labels(image)[f"{LABEL}.recipe"], image
                assert f"building {image}: a LOCAL STAND-IN" in built.log or f"{image}: the local stand-in" in built.log
        else:
            assert image.startswith("docker.io/"), image
    restate = images["TOURLAB_RESTATE_IMAGE"]
    assert restate.endswith(f":{_config.restate_version()}")
    if restate.startswith("tourlab-local/"):
        assert labels(restate)[f"{LABEL}.version"] == _config.restate_version()


def test_no_official_name_is_given_to_a_stand_in() -> None:
    # Images built FROM a stand-in inherit its labels: check the official names, not the label.
    for image in ("restatedev/restate", "library/python", "library/node", "jaegertracing/jaeger"):
        listed = docker("image", "ls", image, "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        for name in listed:
            assert f"{LABEL}.recipe" not in labels(name), f"{name} is a local stand-in"


def test_a_second_run_builds_nothing(built: BuiltImages, tmp_path: Path) -> None:
    started = time.monotonic()
    again = build_images(tmp_path / "compose.env")
    assert again.settings == built.settings
    assert "building" not in again.log
    assert time.monotonic() - started < 60


def test_the_restate_image_runs_and_is_healthy(built: BuiltImages) -> None:
    image = built.settings["TOURLAB_RESTATE_IMAGE"]
    version = docker("run", "--rm", image, "--version")
    assert version.returncode == 0, version.stderr
    assert _config.restate_version() in version.stdout
    started = docker("run", "-d", "--rm", "-p", "127.0.0.1::8080", "-p", "127.0.0.1::9070", image)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        ports = {port: docker("port", container, f"{port}/tcp").stdout.split()[0] for port in (8080, 9070)}
        assert all(address.startswith("127.0.0.1:") for address in ports.values()), ports

        def healthy() -> bool:
            try:
                admin = httpx.get(f"http://{ports[9070]}/health", timeout=2)
                ingress = httpx.get(f"http://{ports[8080]}/restate/health", timeout=2)
            except httpx.HTTPError:
                return False
            return admin.status_code == ingress.status_code == 200

        assert eventually(healthy, timeout=60, interval=0.25), docker("logs", container).stderr[-3000:]
    finally:
        docker("rm", "-f", container)


def test_the_python_base_has_python_3_11_and_pip(built: BuiltImages) -> None:
    image = built.settings["TOURLAB_PYTHON_IMAGE"]
    checked = docker("run", "--rm", image, "python", "-c", "import sys; print(sys.version_info[:2])")
    assert checked.stdout.strip() == "(3, 11)", checked.stderr
    assert docker("run", "--rm", image, "pip", "--version").returncode == 0
    if image.startswith("tourlab-local/"):
        useradd = docker("run", "--rm", image, "sh", "-c", "command -v useradd")
        assert useradd.returncode == 0  # the lab image creates its learner user


def test_the_node_base_has_npm(built: BuiltImages) -> None:
    checked = docker("run", "--rm", built.settings["TOURLAB_NODE_IMAGE"], "npm", "--version")
    assert checked.returncode == 0, checked.stderr
