"""The runtime-selection rule, the Docker (testcontainers) settings, and an external Restate for real.

The rule is tested branch by branch with explicit environment mappings. ``DOCKER_HOST`` points
at a socket that does not exist wherever "no engine" must hold, so the tests mean the same on a
laptop with Docker. The external mode runs a real lab in a subprocess (the lab is one per
process) against a second embedded restate-server started here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from support import docker
from testcontainers.core.config import testcontainers_config

from tourlab import _config
from tourlab._errors import RuntimeUnavailableError, ServerNotInstalledError
from tourlab._ports import free_port
from tourlab._runtimes import EXPORTED_MARKER, Runtime, choose_runtime, create_runtime, restate_ui_url
from tourlab._runtimes.docker import (
    ADMIN_PORT,
    HOST_FROM_CONTAINER,
    INGRESS_PORT,
    OWNER_HOST_LABEL,
    OWNER_PID_LABEL,
    DockerRestate,
    bind_host_for,
    container_settings,
    docker_available,
    engine_bind_host,
    host_identity,
    reachable_from_container,
)
from tourlab._runtimes.embedded import EmbeddedRestate
from tourlab._runtimes.external import ExternalRestate

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/tourlab-test-docker.sock"}
MISSING_BINARY = {"RESTATE_SERVER_BIN": "/nonexistent/restate-server"}
ENGINE = docker_available()
needs_engine = pytest.mark.skipif(
    not ENGINE,
    reason="no Docker engine answers here (docker.from_env().ping() failed); start Docker to run this test",
)


# -- the rule, branch by branch -----------------------------------------------------------------


def runtime_for(env: dict[str, str], tracing_endpoint: str | None = None) -> Runtime:
    """The runtime the rule builds for `env` (nothing is started)."""
    return create_runtime(choose_runtime(env), tracing_endpoint=tracing_endpoint)


def test_rule_1_external_when_admin_url_is_set() -> None:
    env = {
        **NO_DOCKER,
        "RESTATE_ADMIN_URL": "http://restate:9070/",
        "RESTATE_INGRESS_URL": "http://restate:8080",
        "TOURLAB_ENDPOINT_HOST": "lab",
        "TOURLAB_RUNTIME": "docker",  # rule 1 comes first: an explicit Restate wins
    }
    choice = choose_runtime(env)
    runtime = create_runtime(choice)
    assert isinstance(runtime, ExternalRestate)
    assert choice.kind == "external"
    assert not choice.traced  # it exports wherever it is configured to
    assert runtime.admin_url == "http://restate:9070"
    assert runtime.ingress_url == "http://restate:8080"
    assert runtime.endpoint_host == "lab"
    assert runtime.bind_host == "0.0.0.0"  # Restate reaches the endpoint from another host


def test_rule_1_external_on_this_host_keeps_the_endpoint_on_loopback() -> None:
    env = {"RESTATE_ADMIN_URL": "http://127.0.0.1:9070", "RESTATE_INGRESS_URL": "http://127.0.0.1:8080"}
    runtime = runtime_for(env)
    assert (runtime.endpoint_host, runtime.bind_host) == ("127.0.0.1", "127.0.0.1")
    explicit = runtime_for({**env, "TOURLAB_ENDPOINT_HOST": "10.0.0.7", "TOURLAB_ENDPOINT_BIND": "10.0.0.7"})
    assert (explicit.endpoint_host, explicit.bind_host) == ("10.0.0.7", "10.0.0.7")


def test_rule_1_needs_the_ingress_url_too() -> None:
    with pytest.raises(RuntimeUnavailableError, match="RESTATE_INGRESS_URL"):
        choose_runtime({"RESTATE_ADMIN_URL": "http://restate:9070"})


def test_rule_1_ignores_the_urls_a_lab_exported_for_its_cli() -> None:
    # A kernel's lab exports its own server's URLs (for `!restate ...`); a child is not "external".
    env = {
        "RESTATE_ADMIN_URL": "http://127.0.0.1:41234",
        "RESTATE_INGRESS_URL": "http://127.0.0.1:41235",
        EXPORTED_MARKER: "http://127.0.0.1:41234",
        **NO_DOCKER,
    }
    assert choose_runtime(env).kind == "embedded"
    assert isinstance(runtime_for(env), EmbeddedRestate)


def test_rule_2_forced_docker_without_an_engine_says_so() -> None:
    with pytest.raises(RuntimeUnavailableError, match="TOURLAB_RUNTIME=docker, but no Docker engine answers"):
        choose_runtime({"TOURLAB_RUNTIME": "docker", **NO_DOCKER})


@needs_engine
@pytest.mark.docker
def test_rule_2_forced_docker_with_an_engine() -> None:
    runtime = runtime_for({"TOURLAB_RUNTIME": "Docker"})
    assert isinstance(runtime, DockerRestate)
    assert runtime.endpoint_host == HOST_FROM_CONTAINER


def test_rule_2_forced_embedded_without_the_binary_explains_the_install() -> None:
    env = {"TOURLAB_RUNTIME": "embedded", **MISSING_BINARY, **NO_DOCKER}
    with pytest.raises(ServerNotInstalledError, match="npm ci"):
        choose_runtime(env)


@pytest.mark.parametrize("value", ["kubernetes", "external"])
def test_rule_2_unknown_or_incomplete_choices_are_refused(value: str) -> None:
    with pytest.raises(RuntimeUnavailableError, match=f"TOURLAB_RUNTIME={value}|'{value}'"):
        choose_runtime({"TOURLAB_RUNTIME": value, **NO_DOCKER})


def test_rule_3_embedded_binary_from_npm_by_default() -> None:
    choice = choose_runtime(dict(NO_DOCKER))
    runtime = create_runtime(choice, tracing_endpoint="http://127.0.0.1:4317")
    assert choice.traced
    assert not choose_runtime({**NO_DOCKER, "TOURLAB_TRACING": "off"}).traced
    assert isinstance(runtime, EmbeddedRestate)
    assert runtime.binary == _config.server_binary()
    assert runtime.tracing_endpoint == "http://127.0.0.1:4317"
    assert (runtime.endpoint_host, runtime.bind_host) == ("127.0.0.1", "127.0.0.1")


@needs_engine
@pytest.mark.docker
def test_rule_4_docker_when_no_binary_but_an_engine() -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("DOCKER_")} | MISSING_BINARY
    choice = choose_runtime(env)
    assert choice.kind == "docker"
    assert (choice.bind_host, choice.endpoint_host) == (engine_bind_host(env), HOST_FROM_CONTAINER)
    runtime = create_runtime(choice)
    assert isinstance(runtime, DockerRestate)
    assert runtime.bind_host == choice.bind_host


def test_rule_5_nothing_available_lists_the_three_options() -> None:
    with pytest.raises(RuntimeUnavailableError) as raised:
        choose_runtime({**MISSING_BINARY, **NO_DOCKER})
    message = str(raised.value)
    assert "1. embedded" in message
    assert _config.INSTALL_HINT in message
    assert "2. Docker" in message
    assert "3. external" in message
    assert "RESTATE_ADMIN_URL" in message
    assert "RESTATE_INGRESS_URL" in message
    assert "TOURLAB_ENDPOINT_HOST" in message


# -- links for the browser -------------------------------------------------------------------------


def test_restate_ui_link_only_where_it_can_work() -> None:
    local = ExternalRestate(
        "http://127.0.0.1:9070", "http://127.0.0.1:8080", endpoint_host="127.0.0.1", bind_host="127.0.0.1"
    )
    compose = ExternalRestate("http://restate:9070", "http://restate:8080", endpoint_host="lab", bind_host="0.0.0.0")
    assert restate_ui_url(local, {}) == "http://127.0.0.1:9070/ui/"
    assert restate_ui_url(local, {"JUPYTERHUB_SERVICE_PREFIX": "/user/ada/"}) is None
    assert restate_ui_url(compose, {}) is None
    assert restate_ui_url(compose, {"TOURLAB_RESTATE_UI_URL": "http://localhost:9070/ui/"}) == (
        "http://localhost:9070/ui/"
    )


# -- Docker via testcontainers: the configuration, without an engine ---------------------------------


def test_container_runs_the_pinned_image_and_reaches_the_host() -> None:
    settings = container_settings(host_ports={INGRESS_PORT: 18080, ADMIN_PORT: 19070})
    assert settings["image"] == f"restatedev/restate:{_config.restate_version()}"
    assert settings["image"] == _config.docker_image()
    assert settings["ports"] == {INGRESS_PORT: 18080, ADMIN_PORT: 19070}
    assert settings["publish_host"] == "127.0.0.1"  # published on this machine only
    assert settings["labels"][OWNER_PID_LABEL] == str(os.getpid())  # the start-up sweep reads these
    assert settings["labels"][OWNER_HOST_LABEL] == host_identity()
    assert settings["extra_hosts"] == {"host.docker.internal": "host-gateway"}
    assert settings["env"].items() >= _config.SERVER_ENV.items()
    assert "RESTATE_TRACING_ENDPOINT" not in settings["env"]


def test_container_host_ports_are_fixed_and_distinct() -> None:
    ports = container_settings()["ports"]
    assert set(ports) == {INGRESS_PORT, ADMIN_PORT}
    assert len(set(ports.values())) == 2
    assert all(isinstance(port, int) and port > 0 for port in ports.values())


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("http://127.0.0.1:4317", "http://host.docker.internal:4317"),
        ("http://localhost:4317", "http://host.docker.internal:4317"),
        ("otlp+http://127.0.0.1:4318/v1/traces", "otlp+http://host.docker.internal:4318/v1/traces"),
        ("http://host.docker.internal:4317", "http://host.docker.internal:4317"),
        ("http://jaeger:4317", "http://jaeger:4317"),
    ],
)
def test_container_sends_traces_to_the_kernel_via_host_docker_internal(given: str, sent: str) -> None:
    assert reachable_from_container(given) == sent
    assert container_settings(given)["env"]["RESTATE_TRACING_ENDPOINT"] == sent


def test_docker_runtime_advertises_the_endpoint_to_the_container() -> None:
    assert DockerRestate.endpoint_host == "host.docker.internal"
    assert DockerRestate(bind_host="172.17.0.1").bind_host == "172.17.0.1"


def test_docker_listeners_bind_where_containers_reach_the_host_and_no_further() -> None:
    # Docker Desktop forwards host.docker.internal to the host's loopback.
    assert bind_host_for("Docker Desktop", None, {}) == "127.0.0.1"
    # An explicit choice wins.
    assert bind_host_for("Debian GNU/Linux 12 (bookworm)", None, {"TOURLAB_ENDPOINT_BIND": "10.1.2.3"}) == "10.1.2.3"
    # A Linux engine: the docker0 bridge address of this machine, never 0.0.0.0 when there is one.
    docker0 = [a.address for a in psutil.net_if_addrs().get("docker0", []) if a.family == socket.AF_INET]
    if docker0:
        assert bind_host_for("Debian GNU/Linux 12 (bookworm)", None, {}) == docker0[0]


# -- running labs for real in a subprocess ----------------------------------------------------------

LAB_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import psutil
    from tourlab import Lab

    cart, seat = sys.argv[1], sys.argv[2]
    lab = Lab.start("tour/part3")
    try:
        first = lab.call("CartObject", cart, "addTicket", seat)
        second = lab.call("CartObject", cart, "addTicket", seat)
        children = [p.name() for p in psutil.Process().children(recursive=True)]
        image = getattr(lab.runtime, "image", None)
        print(json.dumps({
            "results": [first, second],
            "kind": lab.runtime_kind,
            "admin_url": lab.admin_url,
            "endpoint_url": lab.endpoint_url,
            "bind_host": lab.runtime.bind_host,
            "children": children,
            "image": image.note if image else None,
            "ryuk_disabled": os.environ.get("TESTCONTAINERS_RYUK_DISABLED"),
        }))
    finally:
        lab.stop()
    """
)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment minus what a lab exported, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTATE_", "TOURLAB_"))}
    return {**env, **extra}


def run_lab(env: dict[str, str], cart: str, seat: str, timeout: float = 180) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", LAB_SCRIPT, cart, seat],
        cwd=_config.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"lab subprocess failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def external_server() -> Iterator[EmbeddedRestate]:
    """A second embedded restate-server, standing in for 'someone else's Restate'."""
    server = EmbeddedRestate()
    server.start()
    yield server
    server.stop()


def _endpoint_hosts() -> list[str]:
    hosts = ["127.0.0.1"]
    try:
        socket.gethostbyname(socket.gethostname())
        hosts.append(socket.gethostname())  # a host *name*, as `lab` in docker compose
    except OSError:
        pass
    return hosts


@pytest.mark.parametrize("endpoint_host", _endpoint_hosts())
def test_external_restate_for_real(
    external_server: EmbeddedRestate, endpoint_host: str, tmp_path: Path, unique
) -> None:
    cart, seat = unique("ext-cart"), unique("seat")
    env = clean_env(
        RESTATE_ADMIN_URL=external_server.admin_url,
        RESTATE_INGRESS_URL=external_server.ingress_url,
        TOURLAB_ENDPOINT_HOST=endpoint_host,
        TOURLAB_HOME=str(tmp_path / "home"),
    )
    seen = run_lab(env, cart, seat)

    assert seen["results"] == [True, False]
    assert seen["kind"] == "external"
    assert seen["admin_url"] == external_server.admin_url
    assert seen["endpoint_url"].startswith(f"http://{endpoint_host}:")
    assert seen["bind_host"] == ("127.0.0.1" if endpoint_host == "127.0.0.1" else "0.0.0.0")
    # The lab started no restate-server of its own: no such child, no data dir.
    assert not any("restate" in name for name in seen["children"]), seen["children"]
    assert not any((tmp_path / "home" / "run").glob("*"))
    # The calls really went through the external server, which kept the cart's state.
    rows = httpx.post(
        f"{external_server.admin_url}/query",
        json={"query": f"SELECT value_utf8 FROM state WHERE service_key = '{cart}' AND key = 'tickets'"},
        headers={"accept": "application/json"},
        timeout=10,
    ).json()["rows"]
    assert [json.loads(row["value_utf8"]) for row in rows] == [[seat]]


def test_external_restate_that_does_not_answer_says_which_url() -> None:
    port = free_port()
    runtime = ExternalRestate(
        f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", endpoint_host="127.0.0.1", bind_host="127.0.0.1"
    )
    with pytest.raises(RuntimeUnavailableError, match=f"127.0.0.1:{port}/health"):
        runtime.start(timeout=0.3)


@needs_engine
@pytest.mark.docker
def test_docker_runtime_for_real(tmp_path: Path, unique) -> None:
    # The official image where it is here or can be pulled, else the local stand-in (built on
    # first use); testcontainers' Ryuk is switched off when its image is not here.
    env = clean_env(TOURLAB_RUNTIME="docker", TOURLAB_HOME=str(tmp_path / "home"))
    env.pop("TESTCONTAINERS_RYUK_DISABLED", None)
    seen = run_lab(env, unique("docker-cart"), unique("seat"), timeout=600)
    assert seen["results"] == [True, False]
    assert seen["kind"] == "docker"
    assert seen["endpoint_url"].startswith("http://host.docker.internal:")
    assert seen["bind_host"] == engine_bind_host() != "0.0.0.0"
    assert seen["admin_url"].startswith("http://127.0.0.1:")
    official = _config.docker_image()
    assert seen["image"].startswith(f"{official} (official image") or seen["image"].startswith(
        f"tourlab-local/restate:{_config.restate_version()}, a LOCAL STAND-IN for {official}"
    )
    ryuk_here = docker("image", "inspect", testcontainers_config.ryuk_image)
    assert seen["ryuk_disabled"] == (None if ryuk_here.returncode == 0 else "true")
