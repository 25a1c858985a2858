"""Restate in a Docker container (testcontainers), for laptops that prefer Docker.

``TOURLAB_RUNTIME=docker`` (or no npm binary but a Docker engine) runs one container per kernel:

- Image: the pinned ``restatedev/restate:<version>`` if it is here or can be pulled, else the local
  stand-in ``tourlab-local/restate:<version>`` (the npm binary on an empty image, built once; see
  ``images.py``). ``DockerRestate.image`` and the server log say which.
- Network: the container reaches the kernel's endpoint and trace receiver at
  ``host.docker.internal`` (mapped to the host gateway). Those listen only where that name leads:
  the ``docker0`` bridge address on Linux engines, loopback on Docker Desktop (which forwards the
  name to the host's loopback). Restate's ports are published on 127.0.0.1 only, on host ports
  chosen once, so the URLs survive ``lab.restart_server()``.
- Clean-up: a detached reaper process (``reaper.py``), started before the container, removes it
  when the kernel dies, even by SIGKILL; each start also removes containers of kernels that are
  gone. Testcontainers' Ryuk is switched off when its image is not here, so nothing pulls it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil

from tourlab import _config
from tourlab._errors import LabError, ServerStartError
from tourlab._ports import free_port
from tourlab._process import start_mark, still_running
from tourlab._runtimes import images
from tourlab._runtimes._readiness import wait_until_ready

INGRESS_PORT = 8080
ADMIN_PORT = 9070
#: How a container reaches the kernel's endpoint on the host.
HOST_FROM_CONTAINER = "host.docker.internal"
#: Where published ports listen: this machine only.
PUBLISH_HOST = "127.0.0.1"
#: Overrides where the kernel's endpoint and trace receiver listen (as for an external Restate).
BIND_VAR = "TOURLAB_ENDPOINT_BIND"
RYUK_VAR = "TESTCONTAINERS_RYUK_DISABLED"

LABEL = images.LABEL
RUNTIME_LABEL = f"{LABEL}.runtime"
OWNER_PID_LABEL = f"{LABEL}.owner-pid"
OWNER_STARTED_LABEL = f"{LABEL}.owner-started"
OWNER_HOST_LABEL = f"{LABEL}.owner-host"

REAPER_SCRIPT = Path(__file__).with_name("reaper.py")

NO_ENGINE_HINT = (
    "no Docker engine answers. Start Docker Desktop / the docker service (check with `docker info`), "
    "or unset TOURLAB_RUNTIME to use the embedded restate-server."
)

_log = logging.getLogger(__name__)


def _client(env: Mapping[str, str] | None) -> Any:
    import docker

    return docker.from_env(timeout=5, environment=dict(env) if env is not None else None)


def docker_available(env: Mapping[str, str] | None = None) -> bool:
    """Whether a Docker engine answers (not just whether the client is installed).

    `env` (default: the process environment) is where ``DOCKER_HOST`` and friends are read.
    """
    return engine_bind_host(env) is not None


def _ipv4_of(interface: str) -> str | None:
    addresses = psutil.net_if_addrs().get(interface, [])
    return next((address.address for address in addresses if address.family == socket.AF_INET), None)


def _local_addresses() -> set[str]:
    return {
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family == socket.AF_INET
    }


def bind_host_for(operating_system: str, bridge_gateway: str | None, env: Mapping[str, str]) -> str:
    """Where the kernel's listeners go so this engine's containers reach them, and no other machine does.

    ``TOURLAB_ENDPOINT_BIND`` wins. Docker Desktop forwards ``host.docker.internal`` to the host's
    loopback: 127.0.0.1. A Linux engine maps it to its bridge (``docker0``, else the bridge
    network's gateway when that is an address of this machine). Failing all that, 0.0.0.0, with a
    warning: the endpoint then answers from other machines too.
    """
    if env.get(BIND_VAR):
        return env[BIND_VAR]
    if "docker desktop" in operating_system.lower():
        return "127.0.0.1"
    bridge = _ipv4_of("docker0")
    if bridge is not None:
        return bridge
    if bridge_gateway is not None and bridge_gateway in _local_addresses():
        return bridge_gateway
    _log.warning(
        "Found no docker0 bridge on this machine: the endpoint listens on 0.0.0.0, reachable from other "
        "machines. Set %s to the address your containers reach this host at.",
        BIND_VAR,
    )
    return "0.0.0.0"


def engine_bind_host(env: Mapping[str, str] | None = None) -> str | None:
    """None when no Docker engine answers, else where the kernel's listeners bind (``bind_host_for``)."""
    env = os.environ if env is None else env
    try:
        client = _client(env)
    except Exception:  # noqa: BLE001 - no client, no engine
        return None
    try:
        client.ping()
        operating_system = str(client.info().get("OperatingSystem", ""))
        gateway = None
        if _ipv4_of("docker0") is None and "docker desktop" not in operating_system.lower():
            configs = client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
            gateway = next((c["Gateway"] for c in configs if c.get("Gateway")), None)
        return bind_host_for(operating_system, gateway, env)
    except Exception:  # noqa: BLE001 - any failure means "no usable engine"
        return None
    finally:
        client.close()


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


@cache
def host_identity() -> str:
    """This machine's boot and PID namespace: owner pids in labels mean something only here."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}-{Path('/proc/self/ns/pid').stat().st_ino}"
    except OSError:
        return socket.gethostname()


def owner_labels() -> dict[str, str]:
    """Labels naming this process as the container's owner (for the start-up sweep)."""
    pid = os.getpid()
    return {
        RUNTIME_LABEL: "docker",
        OWNER_PID_LABEL: str(pid),
        OWNER_STARTED_LABEL: start_mark(pid) or "",
        OWNER_HOST_LABEL: host_identity(),
    }


def container_settings(
    tracing_endpoint: str | None = None, *, host_ports: Mapping[int, int] | None = None, image: str | None = None
) -> dict[str, Any]:
    """Image, port bindings, env, host mapping and labels of the container (unit-testable without Docker).

    `host_ports` maps container port -> host port on 127.0.0.1; by default two free ports are
    picked, and they stay fixed for the container's life (a restart keeps the lab's URLs valid).
    """
    env = dict(_config.SERVER_ENV)
    if tracing_endpoint:
        env["RESTATE_TRACING_ENDPOINT"] = reachable_from_container(tracing_endpoint)
    ports = dict(host_ports) if host_ports else {INGRESS_PORT: free_port(), ADMIN_PORT: free_port()}
    return {
        "image": image or _config.docker_image(),
        "ports": ports,
        "publish_host": PUBLISH_HOST,
        "env": env,
        "extra_hosts": {HOST_FROM_CONTAINER: "host-gateway"},
        "labels": {LABEL: "restate", f"{LABEL}.version": _config.restate_version(), **owner_labels()},
    }


def sweep_orphans(client: Any) -> list[str]:
    """Remove this machine's lab containers whose owning kernel is gone; returns their names."""
    from docker.errors import APIError

    removed = []
    mine = {"label": f"{OWNER_HOST_LABEL}={host_identity()}"}
    # ignore_removed: a reaper or another lab's sweep may remove one between the list and its inspect.
    for container in client.containers.list(all=True, filters=mine, ignore_removed=True):
        labels = container.labels
        try:
            pid = int(labels.get(OWNER_PID_LABEL, ""))
        except ValueError:
            continue
        if still_running(pid, labels.get(OWNER_STARTED_LABEL)):
            continue  # its kernel still runs
        with contextlib.suppress(APIError):  # another lab may be removing it right now
            container.remove(force=True, v=True)
            removed.append(container.name)
    return removed


def start_reaper(container_name: str) -> subprocess.Popen[bytes]:
    """The detached process that removes `container_name` once this process is gone (see reaper.py)."""
    return subprocess.Popen(
        # -P: the script's folder holds docker.py, which must not shadow the Docker client.
        [sys.executable, "-P", str(REAPER_SCRIPT), str(os.getpid()), container_name],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _disable_ryuk_unless_present(client: Any) -> None:
    """Testcontainers' Ryuk would be pulled at the first start: off unless its image is here (or set)."""
    from testcontainers.core.config import testcontainers_config

    if RYUK_VAR in os.environ:
        return
    try:
        client.images.get(testcontainers_config.ryuk_image)
    except Exception:  # noqa: BLE001 - not here (or not askable): don't let anything pull it
        os.environ[RYUK_VAR] = "true"
        testcontainers_config.ryuk_disabled = True


def _port_clash(error: Exception) -> bool:
    text = str(error).lower()
    return "port is already allocated" in text or "address already in use" in text


class DockerRestate:
    """Restate in a container owned by this process: the pinned image, or its local stand-in."""

    kind = "docker"
    endpoint_host = HOST_FROM_CONTAINER

    def __init__(
        self,
        *,
        tracing_endpoint: str | None = None,
        bind_host: str | None = None,
        server_env: Mapping[str, str] | None = None,
    ) -> None:
        """`bind_host`: where the endpoint and receiver listen (default: ``engine_bind_host()``);
        `server_env`: extra ``RESTATE_...`` settings for the server in the container."""
        self.bind_host = bind_host or engine_bind_host() or "127.0.0.1"
        self.settings = container_settings(tracing_endpoint)
        self.settings["env"].update(server_env or {})
        self.tracing_endpoint: str | None = self.settings["env"].get("RESTATE_TRACING_ENDPOINT")
        self.name = f"tourlab-restate-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        #: The image it runs, once started (``image.note`` says whether it is the official one).
        self.image: images.ImageChoice | None = None
        self._container: Any = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self._log_file = _config.LAB_HOME / "logs" / f"restate-docker-{os.getpid()}.log"

    @property
    def ports(self) -> dict[int, int]:
        return dict(self.settings["ports"])

    @property
    def admin_url(self) -> str:
        return f"http://{PUBLISH_HOST}:{self.settings['ports'][ADMIN_PORT]}"

    @property
    def ingress_url(self) -> str:
        return f"http://{PUBLISH_HOST}:{self.settings['ports'][INGRESS_PORT]}"

    @property
    def running(self) -> bool:
        if self._container is None:
            return False
        try:
            wrapped = self._container.get_wrapped_container()
            wrapped.reload()
            return bool(wrapped.status == "running")
        except Exception:  # noqa: BLE001 - an engine that went away means "not running"
            return False

    def start(self, timeout: float = 120.0) -> None:
        """Pick the image, start the reaper, then the container, and wait until Restate is ready."""
        from docker.errors import DockerException

        try:
            client = _client(None)
        except DockerException as error:
            raise ServerStartError(f"Cannot start Restate in Docker: {NO_ENGINE_HINT} ({error})") from None
        try:
            _disable_ryuk_unless_present(client)
            self.image = self._choose_image()
            _log.info("Restate in Docker: %s", self.image.note)
            swept = sweep_orphans(client)
            if swept:
                _log.info("Removed containers of kernels that are gone: %s", ", ".join(swept))
        finally:
            client.close()
        self._reaper = start_reaper(self.name)
        for attempt in range(3):
            try:
                self._run_container()
                break
            except DockerException as error:
                self._remove_container()
                if not _port_clash(error) or attempt == 2:
                    note = self.image.note
                    raise ServerStartError(f"The Restate container ({note}) did not start: {error}") from None
                self.settings["ports"] = {INGRESS_PORT: free_port(), ADMIN_PORT: free_port()}
        self._wait_ready(timeout)

    def _choose_image(self) -> images.ImageChoice:
        official = self.settings["image"]
        if shutil.which("docker") is None:  # no command line to pull or build with: the client pulls
            return images.ImageChoice(official, official=True, note=f"{official} (official image)")
        try:
            return images.choose_restate_image(
                _config.PROJECT_ROOT,
                _config.restate_version(),
                official,
                state_dir=_config.LAB_HOME / "docker",
                log=_log.info,
            )
        except LabError as error:  # images.py's: ImageUnavailableError, ImageBuildError
            raise type(error)(f"No Restate image for Docker: {error}") from None

    def _run_container(self) -> None:
        from testcontainers.core.container import DockerContainer

        assert self.image is not None
        container = DockerContainer(self.image.image).with_name(self.name)
        for container_port, host_port in self.settings["ports"].items():
            container = container.with_bind_ports(container_port, host_port)
            # with_bind_ports takes no host IP; docker-py does, as (ip, port)
            container.ports[str(container_port)] = (PUBLISH_HOST, host_port)  # type: ignore[assignment]
        for name, value in self.settings["env"].items():
            container = container.with_env(name, value)
        self._container = container.with_kwargs(
            extra_hosts=self.settings["extra_hosts"],
            labels=self.settings["labels"] | {f"{LABEL}.image": self.image.image},
            network="bridge",  # not whichever custom network testcontainers might guess
        )
        self._container.start()

    def restart(self, timeout: float = 60.0) -> None:
        """Restart the container; its data (state, journals, timers) and host ports are kept."""
        self._container.get_wrapped_container().restart()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        problem = wait_until_ready(self.admin_url, self.ingress_url, timeout=timeout, interval=0.05)
        if problem is not None:
            last_lines = "\n".join(self.logs().strip().splitlines()[-8:])
            note = self.image.note if self.image else "?"
            raise ServerStartError(
                f"The Restate container ({note}) was not ready after {timeout:.0f} s ({problem}). "
                f"Its last log lines:\n{last_lines}"
            )

    def logs(self) -> str:
        """What Restate printed in the container."""
        if self._container is None:
            return ""
        try:
            out, err = self._container.get_logs()
        except Exception:  # noqa: BLE001 - gone already
            return ""
        return str((out + err).decode(errors="replace"))

    @property
    def log_path(self) -> Path | None:
        """A file with the image used and what Restate printed so far (refreshed on every read)."""
        if self._container is None:
            return None
        header = [
            f"# image: {self.image.note if self.image else '?'}",
            f"# container: {self.name}; admin {self.admin_url}, ingress {self.ingress_url}",
        ]
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_file.write_text("\n".join(header) + "\n" + self.logs())
        return self._log_file

    def _remove_container(self) -> None:
        if self._container is None:
            return
        with contextlib.suppress(Exception):  # never created, or removed already
            self._container.stop(force=True, delete_volume=True)
        self._container = None

    def stop(self) -> None:
        """Remove the container (and its data), then end its reaper."""
        self._remove_container()
        if self._reaper is not None:
            self._reaper.terminate()
            self._reaper.wait()
            self._reaper = None
