"""``./course hub``: set up the class folder, then replace this process with JupyterHub.

``./course hub regrade …`` re-runs exercise checks instead (``tourlab.hub.regrade``).
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import replace
from pathlib import Path

from tourlab.hub import regrade
from tourlab.hub.config import seed_admin_passwords
from tourlab.hub.engine import choose_spawner, ensure_lab_image
from tourlab.hub.settings import SETTINGS_ENV, HubSettings, parse_args

CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")


def local_warning(settings: HubSettings) -> str:
    """What a learner can do on a hub with the local spawner (printed at every start)."""
    return (
        f"WARNING: local spawner, no isolation. Every learner's JupyterLab, kernels and Restate run as "
        f"this machine's user {getpass.getuser()!r}. Any learner, from a cell or a terminal, can read and "
        f"change every other learner's files and reach their Restate, and can read the hub's cookie secret, "
        f"tokens and password hashes in {settings.class_dir}, so act as anyone, instructors included, and "
        "post any result. Use it only for a class you trust (docs/classroom.md, Isolation); with a Docker "
        "engine, ./course hub isolates each learner in a container."
    )


def resolve_spawner(settings: HubSettings) -> HubSettings:
    """``auto`` made concrete; with docker, the lab image built if it is missing."""
    spawner = choose_spawner() if settings.spawner == "auto" else settings.spawner
    if spawner == "docker":
        ensure_lab_image(settings.image, settings.class_dir / "images")
    return replace(settings, spawner=spawner)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["regrade"]:
        sys.exit(regrade.command(args[1:]))
    settings = parse_args(args)
    # Private to the hub's user: it holds the cookie secret, password hashes and the admin token.
    settings.class_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        settings = resolve_spawner(settings).with_ports()
    except RuntimeError as error:
        sys.exit(f"The lab image {settings.image} could not be built: {error}")
    if settings.spawner == "local" and not settings.loopback_only and not settings.trusted_class:
        sys.exit(
            f"--ip {settings.ip} lets the class in from other machines, but with the local spawner every "
            "learner can act as anyone (see the warning with --ip 127.0.0.1). Start a Docker engine for "
            "isolated learners, or pass --trusted-class if you trust everyone who can reach this address."
        )
    created = seed_admin_passwords(settings)
    lines = [
        f"Classroom hub: {settings.public_url}/  (spawner: {settings.spawner}, Ctrl+C stops it and every server)",
        f"Class folder:  {settings.class_dir}  (hub state, gradebook, learners' folders in home/)",
        f"Instructors:   {', '.join(settings.admins)}  -> gradebook at {settings.public_url}/services/gradebook/",
    ]
    if created:
        lines.append(f"First passwords of {', '.join(created)}: {settings.class_dir / 'instructor-passwords'}")
    if settings.spawner == "local":
        lines.append(local_warning(settings))
    print("\n".join(lines), flush=True)  # noqa: T201 - the command's banner
    jupyterhub = Path(sys.prefix) / "bin" / "jupyterhub"
    os.chdir(settings.class_dir)
    env = {**os.environ, SETTINGS_ENV: settings.to_json()}
    os.execve(jupyterhub, [str(jupyterhub), "-f", str(CONFIG_FILE)], env)


if __name__ == "__main__":
    main()
