"""docker-compose.yml for real: Restate and the lab come up, and the first notebook runs inside the lab.

The images come from images/build_images.py (pinned ones, or local stand-ins). Each compose found
here runs the stack once: ``docker compose`` (v2) and ``docker-compose`` (1.29, Debian's). The
project has its own name and free host ports, and is taken down with its volumes even when a test fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from support import build_images, docker, docker_engine_answers, eventually, needs_docker_engine

from tourlab._config import PROJECT_ROOT
from tourlab._ports import free_port

pytestmark = [pytest.mark.docker, needs_docker_engine]

NOTEBOOK = "notebooks/00_getting_started.ipynb"


def compose_commands() -> list[list[str]]:
    """The compose command lines that work here (v2 first)."""
    if not docker_engine_answers():
        return []
    found = []
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        if subprocess.run([*command, "version"], capture_output=True, check=False).returncode == 0:
            found.append(command)
    return found


COMMANDS = compose_commands()


@dataclass
class Stack:
    compose: list[str]
    ports: dict[str, int]
    settings: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.compose, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )

    def container(self, service: str) -> str:
        found = self.run("ps", "-q", service)
        assert found.returncode == 0, found.stderr
        assert found.stdout.strip(), f"no {service} container"
        return found.stdout.strip()


def image_id(name: str) -> str:
    """The id of the local image `name`, or "" when there is none."""
    found = docker("image", "inspect", "--format", "{{.Id}}", name)
    return found.stdout.strip() if found.returncode == 0 else ""


def remove_leftovers(project: str) -> None:
    """Remove whatever ``down`` left of `project` (compose labels its containers, networks and volumes)."""
    label = f"label=com.docker.compose.project={project}"
    docker("rm", "-f", *docker("ps", "-aq", "--filter", label).stdout.split())
    docker("network", "rm", *docker("network", "ls", "-q", "--filter", label).stdout.split())
    docker("volume", "rm", "-f", *docker("volume", "ls", "-q", "--filter", label).stdout.split())


@pytest.fixture(
    scope="module",
    params=COMMANDS
    or [pytest.param(None, marks=pytest.mark.skip(reason="neither `docker compose` nor docker-compose"))],
    ids=lambda command: " ".join(command) if command else "none",
)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env_file = tmp_path_factory.mktemp("compose") / "compose.env"
    settings = build_images(env_file).settings
    ports = {name: free_port() for name in ("TOURLAB_LAB_PORT", "TOURLAB_ADMIN_PORT", "TOURLAB_INGRESS_PORT")}
    with env_file.open("a") as stream:
        stream.writelines(f"{name}={port}\n" for name, port in ports.items())
    project = f"tourlab-test-{uuid.uuid4().hex[:8]}"
    running = Stack([*request.param, "--env-file", str(env_file), "-p", project], ports, settings)
    superseded = image_id(settings["TOURLAB_LAB_IMAGE"])
    try:
        built = running.run("build", "lab", timeout=1800)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        started = running.run("up", "-d")
        assert started.returncode == 0, started.stderr
        yield running
    finally:
        running.run("down", "-v", "--remove-orphans", "--timeout", "5")
        remove_leftovers(project)
        if superseded and superseded != image_id(settings["TOURLAB_LAB_IMAGE"]):
            docker("image", "rm", superseded)  # the build before this one, now untagged: else one per changed tree


def test_compose_runs_restate_and_the_lab_without_jaeger_when_its_image_is_missing(stack: Stack) -> None:
    services = set(stack.run("config", "--services").stdout.split())
    with_jaeger = "docker-compose.override.yml" in stack.settings["COMPOSE_FILE"]
    assert services == ({"restate", "lab", "jaeger"} if with_jaeger else {"restate", "lab"})
    for service in ("restate", "lab"):
        state = docker("inspect", "--format", "{{.State.Status}}", stack.container(service)).stdout.strip()
        assert state == "running", stack.run("logs", service).stdout[-3000:]


def test_restate_and_jupyter_answer_on_the_published_ports(stack: Stack) -> None:
    admin = f"http://127.0.0.1:{stack.ports['TOURLAB_ADMIN_PORT']}"
    ingress = f"http://127.0.0.1:{stack.ports['TOURLAB_INGRESS_PORT']}"
    lab = f"http://127.0.0.1:{stack.ports['TOURLAB_LAB_PORT']}"

    def answers(url: str) -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert eventually(lambda: answers(f"{admin}/health") and answers(f"{ingress}/restate/health"), timeout=60)
    assert eventually(lambda: answers(f"{lab}/api"), timeout=60), stack.run("logs", "lab").stdout[-3000:]


def test_published_ports_are_on_127_0_0_1_only(stack: Stack) -> None:
    for service in ("restate", "lab"):
        container = stack.container(service)
        bindings = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", container).stdout)
        published = [binding for port in bindings.values() if port for binding in port]
        assert published, service
        assert {binding["HostIp"] for binding in published} == {"127.0.0.1"}, bindings
        listed = docker("port", container).stdout.split()
        assert all(not entry.startswith(("0.0.0.0", "[::]", ":::")) for entry in listed), listed


def test_the_first_notebook_runs_inside_the_lab_against_compose_restate(stack: Stack) -> None:
    executed = stack.run("exec", "-T", "lab", "jupyter", "execute", NOTEBOOK, timeout=600)
    assert executed.returncode == 0, executed.stdout[-3000:] + executed.stderr[-5000:]
    admin = f"http://127.0.0.1:{stack.ports['TOURLAB_ADMIN_PORT']}"
    deployments = httpx.get(f"{admin}/deployments", timeout=10).json()["deployments"]
    # The kernel in the lab container registered its endpoint under the lab's service name.
    assert any(deployment["uri"].startswith("http://lab:") for deployment in deployments), deployments
