"""docker compose and the lab image, checked without a Docker engine; versions have one source of truth.

package.json pins @restatedev/restate-server; the compose file's Restate image, the lock file,
the Docker settings and the docs must all say the same version. The compose files are read as
compose reads them: docker-compose.yml plus docker-compose.override.yml (Jaeger), with every
``${VAR:-default}`` at its default. tests/test_docker_compose.py runs them for real.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from tourlab import _config
from tourlab._runtimes import choose_runtime, create_runtime, restate_ui_url
from tourlab._runtimes.external import ExternalRestate
from tourlab.hub.settings import default_image
from tourlab.panels.links import jaeger_trace_url

ROOT = _config.PROJECT_ROOT
COMPOSE = ROOT / "docker-compose.yml"
OVERRIDE = ROOT / "docker-compose.override.yml"
DOCKERFILE = ROOT / "Dockerfile"
NOTEBOOK = "notebooks/00_getting_started.ipynb"
VARIABLE = re.compile(r"\$\{(\w+):-([^}]*)\}")


def with_defaults(value: Any) -> Any:
    """`value` with every ``${VAR:-default}`` replaced by its default, recursively."""
    if isinstance(value, dict):
        return {key: with_defaults(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_defaults(item) for item in value]
    return VARIABLE.sub(lambda match: match.group(2), value) if isinstance(value, str) else value


def load(path: Path) -> dict[str, Any]:
    return with_defaults(yaml.safe_load(path.read_text()))


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """compose's merge for what these files use: mappings merge, lists (ports, depends_on) add up."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + value
        else:
            merged[key] = value
    return merged


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    """docker-compose.yml alone: what runs where the Jaeger image cannot be pulled."""
    return load(COMPOSE)


@pytest.fixture(scope="module")
def compose(base: dict[str, Any]) -> dict[str, Any]:
    """What `docker compose up` runs: docker-compose.yml with docker-compose.override.yml (Jaeger)."""
    return merge(base, load(OVERRIDE))


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    """images/build_images.py, imported from its path (images/ is not a package)."""
    spec = importlib.util.spec_from_file_location("build_images", ROOT / "images" / "build_images.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def dockerfile_args() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)", DOCKERFILE.read_text(), re.MULTILINE))


def image_name(image: str) -> str:
    """``docker.io/restatedev/restate:1.2.3`` -> ``restatedev/restate:1.2.3``."""
    return image.removeprefix("docker.io/")


def container_ports(service: dict[str, Any]) -> dict[int, int]:
    """container port -> host port, from short-syntax ``[ip:]host:container`` entries."""
    mapping = {}
    for entry in service.get("ports", []):
        *rest, container = str(entry).split(":")
        mapping[int(container)] = int(rest[-1]) if rest else int(container)
    return mapping


def test_compose_has_restate_jaeger_and_the_lab(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"restate", "jaeger", "lab"}


def test_compose_without_the_override_runs_without_jaeger(base: dict[str, Any]) -> None:
    assert set(base["services"]) == {"restate", "lab"}
    assert "jaeger" not in json.dumps(base)  # no dangling trace endpoint, link or dependency


def test_compose_publishes_every_port_on_127_0_0_1_only(compose: dict[str, Any]) -> None:
    entries = [str(entry) for service in compose["services"].values() for entry in service.get("ports", [])]
    assert entries
    assert all(entry.startswith("127.0.0.1:") and entry.count(":") == 2 for entry in entries), entries


def test_compose_restate_is_the_pinned_version_and_traces_to_jaeger(compose: dict[str, Any]) -> None:
    restate = compose["services"]["restate"]
    assert image_name(restate["image"]) == _config.docker_image()
    assert image_name(restate["image"]) == f"restatedev/restate:{_config.restate_version()}"
    env = restate["environment"]
    assert env["RESTATE_TRACING_ENDPOINT"] == "http://jaeger:4317"
    assert "jaeger" in restate["depends_on"]
    assert {8080, 9070} <= set(container_ports(restate))
    # The same small-footprint settings as the embedded server, where the compose file sets them.
    for name, value in env.items():
        if name in _config.SERVER_ENV:
            assert str(value) == _config.SERVER_ENV[name], name


def test_compose_jaeger_is_a_pinned_2x_with_ui_and_otlp(compose: dict[str, Any]) -> None:
    jaeger = compose["services"]["jaeger"]
    assert re.fullmatch(r"jaegertracing/jaeger:2\.\d+\.\d+", image_name(jaeger["image"])), jaeger["image"]
    assert jaeger["environment"]["JAEGER_LISTEN_HOST"] == "0.0.0.0"  # reachable from restate and the host
    ports = container_ports(jaeger)
    assert ports[16686] == 16686
    assert 4317 in ports


def test_compose_lab_uses_the_compose_restate(compose: dict[str, Any]) -> None:
    services = compose["services"]
    lab = services["lab"]
    assert lab["build"]["context"] == "."
    assert lab["image"] == "restate-tour-lab:local"
    assert container_ports(lab)[8888] == 8888
    assert {"restate", "jaeger"} <= set(lab["depends_on"])
    env = {name: str(value) for name, value in lab["environment"].items()}
    assert env["RESTATE_ADMIN_URL"] == "http://restate:9070"
    assert env["RESTATE_INGRESS_URL"] == "http://restate:8080"
    assert env["TOURLAB_ENDPOINT_HOST"] == "lab"
    assert env["TOURLAB_JAEGER_URL"] == "http://localhost:16686"
    # Every host name the lab is told about is a service of this compose file.
    assert urlparse(env["RESTATE_ADMIN_URL"]).hostname in services
    assert urlparse(env["RESTATE_INGRESS_URL"]).hostname in services
    assert env["TOURLAB_ENDPOINT_HOST"] in services
    # ...and the URL ports are ports the restate container listens on.
    restate_ports = container_ports(services["restate"])
    assert int(env["RESTATE_ADMIN_URL"].rsplit(":", 1)[1]) in restate_ports
    assert int(env["RESTATE_INGRESS_URL"].rsplit(":", 1)[1]) in restate_ports
    # Browser links point at ports published on the host.
    assert int(env["TOURLAB_JAEGER_URL"].rsplit(":", 1)[1]) == container_ports(services["jaeger"])[16686]


def test_compose_lab_environment_selects_the_external_runtime(compose: dict[str, Any]) -> None:
    env = {name: str(value) for name, value in compose["services"]["lab"]["environment"].items()}
    runtime = create_runtime(choose_runtime(env))
    assert isinstance(runtime, ExternalRestate)
    assert runtime.admin_url == "http://restate:9070"
    assert runtime.ingress_url == "http://restate:8080"
    # The restate container registers http://lab:<port>: the endpoint must listen beyond loopback.
    assert runtime.endpoint_host == "lab"
    assert runtime.bind_host == "0.0.0.0"
    assert restate_ui_url(runtime, env) == "http://localhost:9070/ui/"
    assert jaeger_trace_url("abc", env) == "http://localhost:16686/trace/abc"


def test_compose_builds_the_lab_from_the_dockerfiles_base_images(compose: dict[str, Any]) -> None:
    args = compose["services"]["lab"]["build"]["args"]
    assert args == {name: value for name, value in dockerfile_args().items() if name.endswith("_IMAGE")}


def test_the_builder_knows_the_pinned_images_and_names_stand_ins_locally(
    compose: dict[str, Any], builder: ModuleType
) -> None:
    pinned = builder.pinned_images()
    assert pinned["TOURLAB_RESTATE_IMAGE"] == compose["services"]["restate"]["image"]
    assert pinned["TOURLAB_JAEGER_IMAGE"] == compose["services"]["jaeger"]["image"]
    assert pinned["TOURLAB_PYTHON_IMAGE"] == dockerfile_args()["PYTHON_IMAGE"]
    assert pinned["TOURLAB_NODE_IMAGE"] == dockerfile_args()["NODE_IMAGE"]
    assert builder.restate_version() == _config.restate_version()
    assert builder.LOCAL == "tourlab-local"
    # The stand-ins' names are built from LOCAL only: no recipe tags an official name.
    for recipe in (ROOT / "images").glob("*.Dockerfile"):
        assert "restatedev/restate" not in recipe.read_text().split("FROM", 1)[-1], recipe


def test_the_builder_trusts_only_the_certificates_debian_lacks(
    builder: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----"
    host = tmp_path / "host.crt"
    host.write_text("\n".join(pem.format(body) for body in ("QUJD", "REVG", "R0hJ")))
    monkeypatch.setattr(builder, "HOST_CA_BUNDLE", host)
    debian = "\n".join(pem.format(body) for body in ("QUJD", "R0hJ"))
    assert builder.host_only_certificates(debian) == [pem.format("REVG")]


def test_lab_image_is_built_from_the_repository_pins() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert "COPY package.json package-lock.json" in dockerfile
    assert "npm ci" in dockerfile
    assert "pip install -r requirements-hub.txt" in dockerfile  # the course requirements plus JupyterHub
    # No version of Restate of its own: it comes from package-lock.json.
    assert not re.search(r"restate[-_a-z]*[@:= ]v?\d+\.\d+\.\d+", dockerfile, re.IGNORECASE)
    # Base images are build arguments whose defaults are pinned to exact versions.
    assert re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE) == ["${NODE_IMAGE}", "${PYTHON_IMAGE}"]
    for base in (dockerfile_args()["NODE_IMAGE"], dockerfile_args()["PYTHON_IMAGE"]):
        assert re.search(r":\d+\.\d+\.\d+-", base), f"unpinned base image {base}"
    # The same Python minor as Binder, and the same first notebook as ./course.
    python = re.search(r"python:(\d+\.\d+)\.\d+", dockerfile_args()["PYTHON_IMAGE"])
    assert python is not None
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == f"python-{python.group(1)}"
    assert f"--LabApp.default_url=/lab/tree/{NOTEBOOK}" in dockerfile
    assert "--ip=0.0.0.0" in dockerfile
    assert "python binder/install_jupyter_defaults.py" in dockerfile  # the same JupyterLab defaults as Binder
    assert "USER learner" in dockerfile  # kernels do not run as root...
    assert "install -d -o learner -g learner /home/learner/course" in dockerfile  # ...and can write .tourlab/


def test_docker_build_context_leaves_local_installs_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", "node_modules", ".tourlab", "workspace", ".git"} <= ignored  # no learner work in the image


def _text_files() -> list[Path]:
    names = [
        "docker-compose.yml",
        "docker-compose.override.yml",
        "Dockerfile",
        "README.md",
        "course",
        "requirements.txt",
    ]
    files = [ROOT / name for name in names]
    files += (
        sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "binder").glob("*")) + sorted((ROOT / "images").glob("*"))
    )
    return [path for path in files if path.is_file()]


def test_every_restate_version_in_the_repository_is_the_pinned_one() -> None:
    version = _config.restate_version()
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for package in (_config.SERVER_PACKAGE, _config.CLI_PACKAGE):
        assert lock["packages"][f"node_modules/{package}"]["version"] == version, package
    assert json.loads((ROOT / "package.json").read_text())["dependencies"][_config.CLI_PACKAGE] == version
    patterns = [
        r"restatedev/restate:(\d+\.\d+\.\d+)",
        r"@restatedev/restate(?:-server)?@(\d+\.\d+\.\d+)",
        r"restate-server (\d+\.\d+\.\d+)",
    ]
    found = {
        (path.name, match)
        for path in _text_files()
        for pattern in patterns
        for match in re.findall(pattern, path.read_text())
    }
    drifted = {item for item in found if item[1] != version}
    assert not drifted, f"versions other than package.json's {version}: {sorted(drifted)}"
    assert ("docker-compose.yml", version) in found


def test_the_lab_image_built_for_compose_is_the_one_the_classroom_hub_runs(builder: ModuleType) -> None:
    assert builder.lab_image() == default_image()
    assert "requirements-hub.txt" in DOCKERFILE.read_text()  # jupyterhub-singleuser for DockerSpawner
