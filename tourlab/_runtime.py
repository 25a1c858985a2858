"""Where Restate runs for this kernel, chosen by one rule.

1. External, when ``RESTATE_ADMIN_URL`` is set (and was not exported by a lab itself):
   ``RESTATE_INGRESS_URL`` is then required, and ``TOURLAB_ENDPOINT_HOST`` names the host
   Restate reaches this kernel's endpoint at (default ``127.0.0.1``).
2. ``TOURLAB_RUNTIME=docker`` (or ``embedded``) forces that runtime.
3. Otherwise the embedded restate-server binary from npm, if installed.
4. Otherwise Docker, if an engine answers.
5. Otherwise one error that lists the three options.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from tourlab import _config
from tourlab._docker import NO_ENGINE_HINT, DockerRestate, docker_available
from tourlab._errors import RuntimeUnavailableError, ServerNotInstalledError
from tourlab._readiness import wait_until_ready
from tourlab._server import EmbeddedServer

#: Set by a lab when it exports its own URLs for the CLI, so children don't mistake them for external.
EXPORTED_MARKER = "TOURLAB_EXPORTED_ADMIN_URL"
RUNTIME_VAR = "TOURLAB_RUNTIME"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

NO_RUNTIME_MESSAGE = (
    "No Restate to run the course against. Pick one:\n"
    f"  1. embedded (recommended): install the pinned restate-server with  {_config.INSTALL_HINT}\n"
    "  2. Docker: start a Docker engine (the lab then runs the pinned "
    f"{_config.DOCKER_IMAGE_REPO} image), or set {RUNTIME_VAR}=docker\n"
    "  3. external: set RESTATE_ADMIN_URL and RESTATE_INGRESS_URL (and TOURLAB_ENDPOINT_HOST, "
    "the host name Restate can reach this kernel at)"
)


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

    Service names are global on a Restate, so one learner (one kernel) per external Restate:
    the last kernel to register its endpoint serves CartObject & co. for everyone.
    """

    kind = "external"
    log_path = None
    #: Traces go wherever that Restate is configured to send them (Jaeger in docker compose).
    tracing_endpoint = None

    def __init__(
        self,
        admin_url: str,
        ingress_url: str,
        endpoint_host: str,
        bind_host: str,
        *,
        jaeger_url: str | None = None,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.ingress_url = ingress_url.rstrip("/")
        self.endpoint_host = endpoint_host
        self.bind_host = bind_host
        self.jaeger_url = jaeger_url.rstrip("/") if jaeger_url else None

    def start(self, timeout: float = 30.0) -> None:
        """Nothing to start: wait until the server answers (docker compose may still be starting it)."""
        problem = wait_until_ready(self.admin_url, self.ingress_url, timeout=timeout, interval=0.25)
        if problem is not None:
            raise RuntimeUnavailableError(
                f"The external Restate is not ready after {timeout:.0f} s ({problem}). Check RESTATE_ADMIN_URL / "
                "RESTATE_INGRESS_URL and that the server runs, or unset RESTATE_ADMIN_URL to use the embedded "
                "restate-server."
            )

    def restart(self, timeout: float = 0) -> None:
        raise RuntimeUnavailableError(
            "This lab uses an external Restate; restart it where it runs "
            "(docker compose: `docker compose restart restate`)."
        )

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
    endpoint_host = env.get("TOURLAB_ENDPOINT_HOST") or "127.0.0.1"
    local = endpoint_host in _LOCAL_HOSTS
    bind_host = env.get("TOURLAB_ENDPOINT_BIND") or ("127.0.0.1" if local else "0.0.0.0")
    return admin, ingress, endpoint_host, bind_host


def _embedded_binary(env: Mapping[str, str]) -> Path | None:
    """The restate-server binary `env` points at (``RESTATE_SERVER_BIN``), else the installed one."""
    override = env.get("RESTATE_SERVER_BIN")
    found = Path(override) if override else _config.server_binary()
    return found if found is not None and found.is_file() else None


def runtime_kind(env: Mapping[str, str] | None = None) -> str:
    """Which runtime the rule picks for `env`: ``external``, ``docker`` or ``embedded`` (nothing is built).

    Raises RuntimeUnavailableError with what to do when no runtime fits.
    """
    env = os.environ if env is None else env
    if external_settings(env) is not None:
        return "external"
    forced = env.get(RUNTIME_VAR, "").strip().lower()
    if forced == "external":
        raise RuntimeUnavailableError(
            f"{RUNTIME_VAR}=external needs RESTATE_ADMIN_URL and RESTATE_INGRESS_URL "
            "(and TOURLAB_ENDPOINT_HOST if Restate runs on another host)."
        )
    if forced == "docker":
        if not docker_available(env):
            raise RuntimeUnavailableError(f"{RUNTIME_VAR}=docker, but {NO_ENGINE_HINT}")
        return "docker"
    if forced not in {"", "embedded"}:
        raise RuntimeUnavailableError(
            f"{RUNTIME_VAR}={forced!r} is not one of: embedded, docker "
            "(for an external Restate set RESTATE_ADMIN_URL instead)."
        )
    # Forced embedded without a binary: select_runtime explains how to install it.
    if forced == "embedded" or _embedded_binary(env) is not None:
        return "embedded"
    if docker_available(env):
        return "docker"
    raise RuntimeUnavailableError(NO_RUNTIME_MESSAGE)


def select_runtime(env: Mapping[str, str] | None = None, *, tracing_endpoint: str | None = None) -> Runtime:
    """Pick the runtime for this kernel following the rule in the module docstring.

    Nothing is started here; ``Lab.start`` starts what this returns.
    """
    env = os.environ if env is None else env
    kind = runtime_kind(env)
    if kind == "external":
        settings = external_settings(env)
        assert settings is not None
        return ExternalRestate(*settings, jaeger_url=env.get("TOURLAB_JAEGER_URL"))
    if kind == "docker":
        return DockerRestate(tracing_endpoint=tracing_endpoint)
    binary = _embedded_binary(env)
    if binary is None:
        raise ServerNotInstalledError(
            f"{RUNTIME_VAR}=embedded, but restate-server {_config.restate_version()} is not installed. "
            f"Install the pinned binary with:  {_config.INSTALL_HINT}"
        )
    return EmbeddedServer(binary=binary, tracing_endpoint=tracing_endpoint)


def restate_ui_url(runtime: Runtime, env: Mapping[str, str] | None = None) -> str | None:
    """Where the browser finds Restate's UI, or None where it cannot work (behind a path prefix).

    Links to other local web UIs go through jupyter-server-proxy: see ``tourlab.panels.links``.

    ``TOURLAB_RESTATE_UI_URL`` wins (docker compose sets http://localhost:9070/ui/).
    """
    env = os.environ if env is None else env
    override = env.get("TOURLAB_RESTATE_UI_URL")
    if override:
        return override
    if env.get("JUPYTERHUB_SERVICE_PREFIX"):
        return None  # the UI loads its assets from absolute paths, so the proxy cannot serve it
    if runtime.kind == "external" and host_of(runtime.admin_url) not in _LOCAL_HOSTS:
        return None  # e.g. http://restate:9070 is a name only the lab container knows
    return f"{runtime.admin_url}/ui/"


def host_of(url: str) -> str:
    """The host part of a URL."""
    return urlparse(url).hostname or ""
