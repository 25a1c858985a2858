"""Where Restate runs for this kernel, chosen by one rule.

1. External, when ``RESTATE_ADMIN_URL`` is set (and was not exported by a lab itself):
   ``RESTATE_INGRESS_URL`` is then required, and ``TOURLAB_ENDPOINT_HOST`` names the host
   Restate reaches this kernel's endpoint at (default ``127.0.0.1``).
2. ``TOURLAB_RUNTIME=docker`` (or ``embedded``) forces that runtime.
3. Otherwise the embedded restate-server binary from npm, if installed.
4. Otherwise Docker, if an engine answers.
5. Otherwise one error that lists the three options.

The same answer places the in-kernel trace receiver: next to the endpoint for embedded and
Docker, none for an external Restate (it exports wherever it is configured to), none with
``TOURLAB_TRACING=off``. For Docker, both listen only where its containers reach this host: the
``docker0`` bridge address of a Linux engine, loopback on Docker Desktop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from tourlab import _config
from tourlab._errors import RuntimeUnavailableError, ServerNotInstalledError
from tourlab._runtimes.docker import HOST_FROM_CONTAINER, NO_ENGINE_HINT, DockerRestate, engine_bind_host
from tourlab._runtimes.embedded import EmbeddedRestate
from tourlab._runtimes.external import ExternalRestate

__all__ = [
    "ALWAYS_REPLAY_ENV",
    "FAIL_FAST_ENV",
    "EmbeddedRestate",
    "Runtime",
    "RuntimeChoice",
    "choose_runtime",
    "create_runtime",
    "restate_ui_url",
]

#: Set by a lab when it exports its own URLs for the CLI, so children don't mistake them for external.
EXPORTED_MARKER = "TOURLAB_EXPORTED_ADMIN_URL"
RUNTIME_VAR = "TOURLAB_RUNTIME"

#: "Always replay": Restate suspends the invocation at every suspension point (``ctx.run``, a call, a
#: sleep) and the handler replays from the top (what restate-sdk's test harness does), so
#: non-determinism shows on the first call.
ALWAYS_REPLAY_ENV = {"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "0s"}
#: "Fail fast": Restate kills an invocation at its first failure instead of retrying it, so the
#: caller gets the error at once.
FAIL_FAST_ENV = {
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "1",
    "RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS": "kill",
}

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

    @property
    def kind(self) -> str: ...
    @property
    def admin_url(self) -> str: ...
    @property
    def ingress_url(self) -> str: ...
    @property
    def endpoint_host(self) -> str:
        """The host name Restate uses to reach the kernel's endpoint."""

    @property
    def bind_host(self) -> str:
        """Where the kernel's endpoint (and trace receiver) listen so that Restate reaches them."""

    @property
    def log_path(self) -> Path | None:
        """The server's log file, if the lab can read it."""

    @property
    def running(self) -> bool: ...
    def start(self, timeout: float = ...) -> None: ...
    def restart(self, timeout: float = ...) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class RuntimeChoice:
    """What the rule picked; nothing is started yet."""

    kind: str
    #: Where the kernel's listeners bind, and the host Restate reaches them at.
    bind_host: str
    endpoint_host: str
    #: Whether the lab runs its own trace receiver for this Restate.
    traced: bool
    binary: Path | None = None
    admin_url: str = ""
    ingress_url: str = ""


def _tracing_on(env: Mapping[str, str]) -> bool:
    return env.get("TOURLAB_TRACING", "").strip().lower() not in {"0", "off", "false", "no"}


def _external(env: Mapping[str, str]) -> RuntimeChoice | None:
    admin = env.get("RESTATE_ADMIN_URL")
    if not admin or admin == env.get(EXPORTED_MARKER):
        return None
    ingress = env.get("RESTATE_INGRESS_URL")
    if not ingress:
        raise RuntimeUnavailableError(
            "RESTATE_ADMIN_URL is set but RESTATE_INGRESS_URL is not: set both to use an external Restate."
        )
    endpoint_host = env.get("TOURLAB_ENDPOINT_HOST") or "127.0.0.1"
    local = endpoint_host in _config.LOCAL_HOSTS
    bind_host = env.get("TOURLAB_ENDPOINT_BIND") or ("127.0.0.1" if local else "0.0.0.0")
    return RuntimeChoice("external", bind_host, endpoint_host, traced=False, admin_url=admin, ingress_url=ingress)


def _embedded_binary(env: Mapping[str, str]) -> Path | None:
    """The restate-server binary `env` points at (``RESTATE_SERVER_BIN``), else the installed one."""
    found = _config.server_binary(env)
    return found if found is not None and found.is_file() else None


def choose_runtime(env: Mapping[str, str] | None = None) -> RuntimeChoice:
    """Apply the rule of this module to `env`; raises RuntimeUnavailableError saying what to do."""
    env = os.environ if env is None else env
    external = _external(env)
    if external is not None:
        return external
    forced = env.get(RUNTIME_VAR, "").strip().lower()
    if forced == "external":
        raise RuntimeUnavailableError(
            f"{RUNTIME_VAR}=external needs RESTATE_ADMIN_URL and RESTATE_INGRESS_URL "
            "(and TOURLAB_ENDPOINT_HOST if Restate runs on another host)."
        )
    if forced not in {"", "embedded", "docker"}:
        raise RuntimeUnavailableError(
            f"{RUNTIME_VAR}={forced!r} is not one of: embedded, docker "
            "(for an external Restate set RESTATE_ADMIN_URL instead)."
        )
    binary = _embedded_binary(env)
    if forced == "embedded" and binary is None:
        raise ServerNotInstalledError(
            f"{RUNTIME_VAR}=embedded, but restate-server {_config.restate_version()} is not installed. "
            f"Install the pinned binary with:  {_config.INSTALL_HINT}"
        )
    if forced != "docker" and binary is not None:
        return RuntimeChoice("embedded", "127.0.0.1", "127.0.0.1", traced=_tracing_on(env), binary=binary)
    docker_bind_host = engine_bind_host(env)
    if docker_bind_host is not None:
        return RuntimeChoice("docker", docker_bind_host, HOST_FROM_CONTAINER, traced=_tracing_on(env))
    if forced == "docker":
        raise RuntimeUnavailableError(f"{RUNTIME_VAR}=docker, but {NO_ENGINE_HINT}")
    raise RuntimeUnavailableError(NO_RUNTIME_MESSAGE)


def create_runtime(
    choice: RuntimeChoice,
    *,
    tracing_endpoint: str | None = None,
    always_replay: bool = False,
    fail_fast: bool = False,
) -> Runtime:
    """The runtime `choice` names, exporting traces to `tracing_endpoint` where it can.

    ``always_replay`` (``ALWAYS_REPLAY_ENV``) and ``fail_fast`` (``FAIL_FAST_ENV``) set the server
    up that way; only for the runtimes the lab starts itself.
    """
    server_env = {**(ALWAYS_REPLAY_ENV if always_replay else {}), **(FAIL_FAST_ENV if fail_fast else {})}
    if choice.kind == "external":
        if server_env:
            raise RuntimeUnavailableError(
                f"The lab cannot change the settings of an external Restate ({', '.join(server_env)}): "
                "set them where that server runs."
            )
        return ExternalRestate(
            choice.admin_url, choice.ingress_url, endpoint_host=choice.endpoint_host, bind_host=choice.bind_host
        )
    if choice.kind == "docker":
        return DockerRestate(tracing_endpoint=tracing_endpoint, bind_host=choice.bind_host, server_env=server_env)
    return EmbeddedRestate(binary=choice.binary, tracing_endpoint=tracing_endpoint, extra_env=server_env)


def restate_ui_url(runtime: Runtime, env: Mapping[str, str] | None = None) -> str | None:
    """Where the browser finds Restate's UI, or None where it cannot work (behind a path prefix).

    ``TOURLAB_RESTATE_UI_URL`` wins (docker compose sets http://localhost:9070/ui/).
    """
    env = os.environ if env is None else env
    override = env.get("TOURLAB_RESTATE_UI_URL")
    if override:
        return override
    if env.get("JUPYTERHUB_SERVICE_PREFIX"):
        return None  # the UI loads its assets from absolute paths, so the proxy cannot serve it
    if runtime.kind == "external" and (urlparse(runtime.admin_url).hostname or "") not in _config.LOCAL_HOSTS:
        return None  # e.g. http://restate:9070 is a name only the lab container knows
    return f"{runtime.admin_url}/ui/"
