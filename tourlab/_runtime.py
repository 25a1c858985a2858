"""Where Restate runs for this kernel, chosen by one rule.

1. External, when ``RESTATE_ADMIN_URL`` is set (and was not exported by a lab itself).
2. ``TOURLAB_RUNTIME=docker`` (or ``embedded``) forces that runtime.
3. Otherwise the embedded restate-server binary from npm, if installed.
4. Otherwise Docker, if an engine answers.
5. Otherwise one error that lists the three options.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlparse

from tourlab import _config
from tourlab._docker import DockerRestate, docker_available
from tourlab._errors import RuntimeUnavailableError
from tourlab._server import EmbeddedServer

#: Set by a lab when it exports its own URLs for the CLI, so children don't mistake them for external.
EXPORTED_MARKER = "TOURLAB_EXPORTED_ADMIN_URL"


class Runtime(Protocol):
    """What the lab needs from wherever Restate runs."""

    kind: str
    admin_url: str
    ingress_url: str
    #: Host name Restate uses to reach the kernel's endpoint.
    endpoint_host: str

    def start(self, timeout: float = ...) -> None: ...
    def restart(self, timeout: float = ...) -> None: ...
    def stop(self) -> None: ...


class ExternalRestate:
    """A Restate someone else runs (docker compose, a cluster, Restate Cloud).

    Service names are global on a Restate, so one learner per external Restate.
    """

    kind = "external"

    def __init__(self, admin_url: str, ingress_url: str, endpoint_host: str, bind_host: str) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.ingress_url = ingress_url.rstrip("/")
        self.endpoint_host = endpoint_host
        self.bind_host = bind_host
        self.log_path = None

    def start(self, timeout: float = 0) -> None:
        """Nothing to start: the server is already running."""

    def restart(self, timeout: float = 0) -> None:
        raise RuntimeUnavailableError("This lab uses an external Restate; restart it where it runs.")

    def stop(self) -> None:
        """Nothing to stop: the server belongs to someone else."""


def external_settings(env: Mapping[str, str]) -> tuple[str, str, str, str] | None:
    """(admin URL, ingress URL, endpoint host, bind host) if `env` selects an external Restate."""
    admin = env.get("RESTATE_ADMIN_URL")
    if not admin or admin == env.get(EXPORTED_MARKER):
        return None
    ingress = env.get("RESTATE_INGRESS_URL")
    if not ingress:
        raise RuntimeUnavailableError(
            "RESTATE_ADMIN_URL is set but RESTATE_INGRESS_URL is not: set both to use an external Restate."
        )
    endpoint_host = env.get("TOURLAB_ENDPOINT_HOST", "127.0.0.1")
    local = endpoint_host in {"127.0.0.1", "localhost"}
    bind_host = env.get("TOURLAB_ENDPOINT_BIND", "127.0.0.1" if local else "0.0.0.0")
    return admin, ingress, endpoint_host, bind_host


def select_runtime(env: Mapping[str, str] | None = None, *, tracing_endpoint: str | None = None) -> Runtime:
    """Pick the runtime for this kernel following the rule in the module docstring."""
    env = os.environ if env is None else env
    external = external_settings(env)
    if external is not None:
        return ExternalRestate(*external)
    forced = env.get("TOURLAB_RUNTIME", "").lower()
    if forced == "docker":
        return DockerRestate(tracing_endpoint=tracing_endpoint)
    if forced not in {"", "embedded", "external"}:
        raise RuntimeUnavailableError(f"TOURLAB_RUNTIME={forced!r} is not one of: embedded, docker.")
    if forced == "embedded" or _config.server_binary() is not None:
        return EmbeddedServer(tracing_endpoint=tracing_endpoint)
    if docker_available():
        return DockerRestate(tracing_endpoint=tracing_endpoint)
    raise RuntimeUnavailableError(
        "No Restate to run the course against. Pick one:\n"
        f"  1. embedded (recommended): install the pinned server with  {_config.INSTALL_HINT}\n"
        "  2. Docker: start a Docker engine (the lab then runs the pinned restatedev/restate image)\n"
        "  3. external: set RESTATE_ADMIN_URL and RESTATE_INGRESS_URL (and TOURLAB_ENDPOINT_HOST, "
        "the host name Restate can reach this kernel at)"
    )


def host_of(url: str) -> str:
    """The host part of a URL."""
    return urlparse(url).hostname or ""
