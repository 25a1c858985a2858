"""What ``./course hub`` was asked for: flags (or ``TOURLAB_HUB_*`` variables) as one settings object.

``python -m tourlab.hub`` parses the flags, picks free internal ports, and hands the settings
to ``jupyterhub_config.py`` as JSON in ``$TOURLAB_HUB_SETTINGS``.
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tourlab import PROJECT_ROOT
from tourlab._ports import free_port

SETTINGS_ENV = "TOURLAB_HUB_SETTINGS"
SPAWNERS = ("auto", "local", "docker")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def project_version() -> str:
    """The course version from pyproject.toml (the tag of the lab image)."""
    return str(tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"])


def default_image() -> str:
    return f"tourlab-local/lab:{project_version()}"


@dataclass(frozen=True)
class HubSettings:
    """Everything the hub configuration depends on."""

    class_dir: Path = PROJECT_ROOT / ".tourlab" / "class"
    ip: str = "127.0.0.1"
    port: int = 8000
    admins: tuple[str, ...] = ("instructor",)
    #: ``auto`` becomes ``docker`` when a Docker engine answers, else ``local`` (see ``tourlab.hub.engine``).
    spawner: str = "auto"
    image: str = field(default_factory=default_image)
    roster: Path | None = None
    cull_timeout: int = 3600
    cull_every: int = 300
    kernel_cull_timeout: int = 1200
    mem_limit: str = "2G"
    cpu_limit: float = 1.0
    docker_network: str = "tourlab-class"
    #: The instructor said the class may reach a local-spawner hub from beyond this machine.
    trusted_class: bool = False
    # Internal ports (loopback, or the Docker network's gateway): chosen at start unless given.
    hub_port: int = 0
    proxy_api_port: int = 0
    gradebook_port: int = 0

    @property
    def homes(self) -> Path:
        """One folder per learner: their notebooks, workspace and progress."""
        return self.class_dir / "home"

    @property
    def api_token_file(self) -> Path:
        """The token of the ``class-admin`` service, for scripts (tests, bench)."""
        return self.class_dir / "api-token"

    @property
    def loopback_only(self) -> bool:
        return self.ip in LOOPBACK

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if self.ip in ("", "0.0.0.0") else self.ip
        return f"http://{host}:{self.port}"

    def with_ports(self) -> HubSettings:
        """A copy with every internal port that was left at 0 set to a free one."""
        return replace(
            self,
            hub_port=self.hub_port or free_port(),
            proxy_api_port=self.proxy_api_port or free_port(),
            gradebook_port=self.gradebook_port or free_port(),
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["class_dir"] = str(self.class_dir)
        data["roster"] = str(self.roster) if self.roster else None
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> HubSettings:
        data = json.loads(text)
        data["class_dir"] = Path(data["class_dir"])
        data["roster"] = Path(data["roster"]) if data.get("roster") else None
        data["admins"] = tuple(data["admins"])
        return cls(**data)

    @classmethod
    def from_env(cls) -> HubSettings:
        """The settings ``python -m tourlab.hub`` passed down, or the defaults (with free ports)."""
        text = os.environ.get(SETTINGS_ENV)
        return cls.from_json(text) if text else cls().with_ports()


def parse_args(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> HubSettings:
    """``./course hub`` flags; each defaults to its ``TOURLAB_HUB_*`` variable, then to the built-in value."""
    env = os.environ if environ is None else environ
    base = HubSettings()

    def default(name: str, value: object) -> object:
        return env.get(f"TOURLAB_HUB_{name}", value)

    parser = argparse.ArgumentParser(
        prog="./course hub",
        description="Run the course for a class: JupyterHub with one JupyterLab per learner.",
    )
    parser.add_argument(
        "--class-dir",
        type=Path,
        metavar="DIR",
        default=env.get("TOURLAB_CLASS_DIR", base.class_dir),
        help="hub state and learners' files (default: .tourlab/class)",
    )
    parser.add_argument(
        "--ip",
        metavar="ADDRESS",
        default=default("IP", base.ip),
        help="address the hub listens on (default: 127.0.0.1)",
    )
    parser.add_argument("--port", type=int, default=default("PORT", base.port), help="public port (default: 8000)")
    parser.add_argument(
        "--admin",
        action="append",
        dest="admins",
        metavar="NAME",
        help="instructor user name; repeat for more (default: instructor)",
    )
    parser.add_argument(
        "--spawner",
        choices=SPAWNERS,
        default=default("SPAWNER", base.spawner),
        help=(
            "docker: one container per learner; local: one process tree per learner, no isolation; "
            "auto (default): docker when a Docker engine answers, else local"
        ),
    )
    parser.add_argument(
        "--trusted-class",
        action="store_true",
        default=str(default("TRUSTED_CLASS", "")).lower() in {"1", "yes", "true"},
        help=(
            "allow a non-loopback --ip with the local spawner: you trust every learner, since any of them "
            "can read and change the others' work and the hub's secrets"
        ),
    )
    parser.add_argument(
        "--image", default=default("IMAGE", base.image), help=f"lab image for --spawner docker ({base.image})"
    )
    parser.add_argument(
        "--roster",
        type=Path,
        metavar="FILE",
        default=env.get("TOURLAB_HUB_ROSTER"),
        help="allowed user names, one a line",
    )
    parser.add_argument(
        "--cull-timeout",
        type=int,
        metavar="SECONDS",
        default=default("CULL_TIMEOUT", base.cull_timeout),
        help="stop a learner's server after this many idle seconds (default: 3600)",
    )
    parser.add_argument(
        "--cull-every", type=int, default=default("CULL_EVERY", base.cull_every), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--kernel-cull-timeout",
        type=int,
        metavar="SECONDS",
        default=default("KERNEL_CULL_TIMEOUT", base.kernel_cull_timeout),
        help="shut down a kernel (and its Restate) after this many idle seconds (default: 1200)",
    )
    parser.add_argument("--hub-port", type=int, default=default("HUB_PORT", 0), help=argparse.SUPPRESS)
    parser.add_argument("--proxy-api-port", type=int, default=default("PROXY_API_PORT", 0), help=argparse.SUPPRESS)
    parser.add_argument("--gradebook-port", type=int, default=default("GRADEBOOK_PORT", 0), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    admins = args.admins or [a for a in str(default("ADMINS", ",".join(base.admins))).split(",") if a]
    return HubSettings(
        class_dir=Path(args.class_dir).resolve(),
        ip=args.ip,
        port=int(args.port),
        admins=tuple(admins),
        spawner=args.spawner,
        image=args.image,
        roster=Path(args.roster).resolve() if args.roster else None,
        cull_timeout=int(args.cull_timeout),
        cull_every=int(args.cull_every),
        kernel_cull_timeout=int(args.kernel_cull_timeout),
        trusted_class=bool(args.trusted_class),
        hub_port=int(args.hub_port),
        proxy_api_port=int(args.proxy_api_port),
        gradebook_port=int(args.gradebook_port),
    )
