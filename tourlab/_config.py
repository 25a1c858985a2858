"""Single source of truth for versions, paths and tunables of the lab.

Standard library only: ``images/build_images.py`` loads this file by path (through
``tourlab/_runtimes/images.py``) where tourlab's dependencies are not installed.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_JSON = PROJECT_ROOT / "package.json"
NODE_MODULES = PROJECT_ROOT / "node_modules"

#: Where the lab keeps server data, logs and learner progress (git-ignored).
LAB_HOME = Path(os.environ.get("TOURLAB_HOME", PROJECT_ROOT / ".tourlab"))
RUN_DIR = LAB_HOME / "run"

SERVER_PACKAGE = "@restatedev/restate-server"
CLI_PACKAGE = "@restatedev/restate"
DOCKER_IMAGE_REPO = "restatedev/restate"

#: Host names that mean "this machine" (a URL with one of them is reachable only from here).
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})

#: Install command printed when a binary is missing.
INSTALL_HINT = f"cd {PROJECT_ROOT} && npm ci"

# A notebook server needs far less than Restate's production defaults.
SERVER_ENV = {
    "RESTATE_DEFAULT_NUM_PARTITIONS": "1",
    "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": "64MB",
    "RESTATE_DISABLE_TELEMETRY": "true",
    # The partition gets its leader a few gossip ticks after the node is up: 20 ms ticks make a
    # fresh server ready ~0.15 s sooner. (A one-node cluster has no peers for faster ticks to upset.)
    "RESTATE_GOSSIP_TICK_INTERVAL": "20ms",
    # The log server does not fsync before it confirms a write: a lab's data lives as long as its
    # kernel, and a killed server (the course's crash demos) loses nothing, as the operating system
    # holds what it wrote. Only a crash of the whole machine would, which ends the kernel too.
    # Saves ~3 ms a call. (1.7.12 has no such setting for the partition store.)
    "RESTATE_LOG_SERVER__ROCKSDB_DISABLE_WAL_FSYNC": "true",
    "RESTATE_SHUTDOWN_TIMEOUT": "5s",
    "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
    "RESTATE_LOG_FORMAT": "compact",
    # Export finished spans within ~0.2 s instead of the default 5 s.
    "OTEL_BSP_SCHEDULE_DELAY": "200",
}

#: Hypercorn's settings, for the lab's endpoint and for ``python -m hypercorn --config`` alike.
HYPERCORN_CONFIG = PROJECT_ROOT / "hypercorn-config.toml"


@cache
def restate_version() -> str:
    """The pinned restate-server version, read from package.json."""
    deps = json.loads(PACKAGE_JSON.read_text())["dependencies"]
    return str(deps[SERVER_PACKAGE])


def docker_image() -> str:
    """The Restate image matching the pinned server version."""
    return f"{DOCKER_IMAGE_REPO}:{restate_version()}"


def native_package(package: str, system: str | None = None) -> str:
    """The npm package holding `package`'s native binary for `system` (``platform.system()``) on this
    machine's architecture: ``@restatedev/restate-server-linux-x64``."""
    system = system or platform.system()
    os_name = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(system, system.lower())
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{package}-{os_name}-{arch}"


def npm_binary(package: str, name: str, *, system: str | None = None, root: Path = PROJECT_ROOT) -> Path:
    """Where ``npm ci`` in `root` puts the native binary `name` of `package` (it may not be there)."""
    return root / "node_modules" / native_package(package, system) / "bin" / name


def _installed(package: str, name: str, env_var: str, env: Mapping[str, str] | None) -> Path | None:
    override = (os.environ if env is None else env).get(env_var)
    if override:
        return Path(override)
    candidate = npm_binary(package, name)
    if candidate.is_file():
        return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def server_binary(env: Mapping[str, str] | None = None) -> Path | None:
    """The restate-server executable: $RESTATE_SERVER_BIN (of `env`, default os.environ), the npm package, or PATH."""
    return _installed(SERVER_PACKAGE, "restate-server", "RESTATE_SERVER_BIN", env)


def cli_binary(env: Mapping[str, str] | None = None) -> Path | None:
    """The restate CLI executable: $RESTATE_CLI_BIN (of `env`, default os.environ), the npm package, or PATH."""
    return _installed(CLI_PACKAGE, "restate", "RESTATE_CLI_BIN", env)
