"""Restate in a Docker container (testcontainers), for laptops that prefer Docker."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tourlab import _config
from tourlab._errors import RuntimeUnavailableError, ServerStartError

INGRESS_PORT = 8080
ADMIN_PORT = 9070
#: How a container reaches the kernel's endpoint on the host.
HOST_FROM_CONTAINER = "host.docker.internal"


def docker_available() -> bool:
    """Whether a Docker engine answers (not just whether the client is installed)."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
        client.ping()
        client.close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no usable engine"
        return False


def container_settings(tracing_endpoint: str | None = None) -> dict[str, Any]:
    """Image, ports, env and host mapping of the Restate container (unit-testable without Docker)."""
    env = dict(_config.SERVER_ENV)
    if tracing_endpoint:
        env["RESTATE_TRACING_ENDPOINT"] = tracing_endpoint
    return {
        "image": _config.docker_image(),
        "ports": [INGRESS_PORT, ADMIN_PORT],
        "env": env,
        "extra_hosts": {HOST_FROM_CONTAINER: "host-gateway"},
    }


class DockerRestate:
    """The pinned ``restatedev/restate`` image in a container owned by this process."""

    kind = "docker"
    endpoint_host = HOST_FROM_CONTAINER
    bind_host = "0.0.0.0"
    log_path = None

    def __init__(self, *, tracing_endpoint: str | None = None) -> None:
        if not docker_available():
            raise RuntimeUnavailableError(
                "TOURLAB_RUNTIME=docker, but no Docker engine answers. Start Docker Desktop / the docker "
                "service, or unset TOURLAB_RUNTIME to use the embedded restate-server."
            )
        from testcontainers.core.container import DockerContainer  # type: ignore[import-untyped]

        settings = container_settings(tracing_endpoint)
        container = DockerContainer(settings["image"]).with_exposed_ports(*settings["ports"])
        for name, value in settings["env"].items():
            container = container.with_env(name, value)
        self._container = container.with_kwargs(extra_hosts=settings["extra_hosts"])
        self.admin_url = ""
        self.ingress_url = ""

    def start(self, timeout: float = 60.0) -> None:
        self._container.start()
        self._read_urls()
        _wait_healthy(self.admin_url + "/health", timeout)

    def restart(self, timeout: float = 60.0) -> None:
        self._container.get_wrapped_container().restart()
        self._read_urls()  # Docker may map new host ports after a restart
        _wait_healthy(self.admin_url + "/health", timeout)

    def _read_urls(self) -> None:
        host = self._container.get_container_host_ip()
        self.admin_url = f"http://{host}:{self._container.get_exposed_port(ADMIN_PORT)}"
        self.ingress_url = f"http://{host}:{self._container.get_exposed_port(INGRESS_PORT)}"

    def stop(self) -> None:
        self._container.stop()


def _wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServerStartError(f"The Restate container was not healthy after {timeout:.0f} s ({url}).")
