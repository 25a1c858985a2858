"""Restate in a Docker container (testcontainers), for laptops that prefer Docker.

``TOURLAB_RUNTIME=docker`` (or no npm binary but a Docker engine) runs the pinned
``restatedev/restate`` image. The container reaches the kernel's endpoint, and the kernel's
trace receiver, at ``host.docker.internal`` (mapped to the host gateway, which also works on
Linux engines). Host ports are chosen once, so the URLs survive ``lab.restart_server()``.
Testcontainers' reaper removes the container if the kernel dies without stopping it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tourlab import _config
from tourlab._errors import ServerStartError
from tourlab._ports import free_port
from tourlab._runtimes._readiness import wait_until_ready

INGRESS_PORT = 8080
ADMIN_PORT = 9070
#: How a container reaches the kernel's endpoint on the host.
HOST_FROM_CONTAINER = "host.docker.internal"

NO_ENGINE_HINT = (
    "no Docker engine answers. Start Docker Desktop / the docker service (check with `docker info`), "
    "or unset TOURLAB_RUNTIME to use the embedded restate-server."
)


def docker_available(env: Mapping[str, str] | None = None) -> bool:
    """Whether a Docker engine answers (not just whether the client is installed).

    `env` (default: the process environment) is where ``DOCKER_HOST`` and friends are read.
    """
    try:
        import docker

        client = docker.from_env(timeout=2, environment=dict(env) if env is not None else None)
        try:
            client.ping()
        finally:
            client.close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no usable engine"
        return False


def reachable_from_container(url: str) -> str:
    """`url` with a loopback host replaced by ``host.docker.internal`` (for the trace receiver).

    >>> reachable_from_container("http://127.0.0.1:4317")
    'http://host.docker.internal:4317'
    """
    parts = urlsplit(url)
    if (parts.hostname or "") not in _config.LOCAL_HOSTS:
        return url
    netloc = HOST_FROM_CONTAINER + (f":{parts.port}" if parts.port else "")
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def container_settings(
    tracing_endpoint: str | None = None, *, host_ports: Mapping[int, int] | None = None
) -> dict[str, Any]:
    """Image, port bindings, env and host mapping of the Restate container (unit-testable without Docker).

    `host_ports` maps container port -> host port; by default two free host ports are picked,
    and they stay fixed for the container's life (a restart keeps the lab's URLs valid).
    """
    env = dict(_config.SERVER_ENV)
    if tracing_endpoint:
        env["RESTATE_TRACING_ENDPOINT"] = reachable_from_container(tracing_endpoint)
    ports = dict(host_ports) if host_ports else {INGRESS_PORT: free_port(), ADMIN_PORT: free_port()}
    return {
        "image": _config.docker_image(),
        "ports": ports,
        "env": env,
        "extra_hosts": {HOST_FROM_CONTAINER: "host-gateway"},
        "labels": {"org.restate-tour-lab": "restate", "org.restate-tour-lab.version": _config.restate_version()},
    }


class DockerRestate:
    """The pinned ``restatedev/restate`` image in a container owned by this process."""

    kind = "docker"
    endpoint_host = HOST_FROM_CONTAINER
    #: The endpoint (and any receiver) must listen beyond loopback for the container to reach it.
    bind_host = "0.0.0.0"
    log_path: Path | None = None

    def __init__(self, *, tracing_endpoint: str | None = None, server_env: Mapping[str, str] | None = None) -> None:
        from testcontainers.core.container import DockerContainer

        self.settings = container_settings(tracing_endpoint)
        self.settings["env"].update(server_env or {})
        self.tracing_endpoint = self.settings["env"].get("RESTATE_TRACING_ENDPOINT")
        container = DockerContainer(self.settings["image"])
        for container_port, host_port in self.settings["ports"].items():
            container = container.with_bind_ports(container_port, host_port)
        for name, value in self.settings["env"].items():
            container = container.with_env(name, value)
        self._container = container.with_kwargs(
            extra_hosts=self.settings["extra_hosts"], labels=self.settings["labels"]
        )
        self._started = False
        self.admin_url = ""
        self.ingress_url = ""

    @property
    def running(self) -> bool:
        if not self._started:
            return False
        try:
            return self._container.status == "running"
        except Exception:  # noqa: BLE001 - an engine that went away means "not running"
            return False

    def start(self, timeout: float = 120.0) -> None:
        """Pull (first time only) and start the container, then wait until Restate is healthy."""
        self._container.start()
        self._started = True
        self._read_urls()
        self._wait_ready(timeout)

    def restart(self, timeout: float = 60.0) -> None:
        """Restart the container; its data (state, journals, timers) and host ports are kept."""
        self._container.get_wrapped_container().restart()
        self._read_urls()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        problem = wait_until_ready(self.admin_url, self.ingress_url, timeout=timeout, interval=0.2)
        if problem is not None:
            last_lines = "\n".join(self.logs().strip().splitlines()[-8:])
            raise ServerStartError(
                f"The Restate container was not ready after {timeout:.0f} s ({problem}). "
                f"Its last log lines:\n{last_lines}"
            )

    def _read_urls(self) -> None:
        host = self._container.get_container_host_ip()
        self.admin_url = f"http://{host}:{self._container.get_exposed_port(ADMIN_PORT)}"
        self.ingress_url = f"http://{host}:{self._container.get_exposed_port(INGRESS_PORT)}"

    def logs(self) -> str:
        """What Restate printed in the container."""
        out, err = self._container.get_logs()
        return (out + err).decode(errors="replace")

    def stop(self) -> None:
        if self._started:
            self._container.stop()
            self._started = False
