"""``./course hub``: set up the class folder, then replace this process with JupyterHub."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tourlab.hub.config import seed_admin_passwords
from tourlab.hub.settings import SETTINGS_ENV, parse_args

CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv).with_ports()
    # Private to the hub's user: it holds the cookie secret, password hashes and the admin token.
    settings.class_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = seed_admin_passwords(settings)
    lines = [
        f"Classroom hub: {settings.public_url}/  (spawner: {settings.spawner}, Ctrl+C stops it and every server)",
        f"Class folder:  {settings.class_dir}  (hub state, gradebook, learners' folders in home/)",
        f"Instructors:   {', '.join(settings.admins)}  -> gradebook at {settings.public_url}/services/gradebook/",
    ]
    if created:
        lines.append(f"First passwords of {', '.join(created)}: {settings.class_dir / 'instructor-passwords'}")
    print("\n".join(lines), flush=True)  # noqa: T201 - the command's banner
    jupyterhub = Path(sys.prefix) / "bin" / "jupyterhub"
    os.chdir(settings.class_dir)
    env = {**os.environ, SETTINGS_ENV: settings.to_json()}
    os.execve(jupyterhub, [str(jupyterhub), "-f", str(CONFIG_FILE)], env)


if __name__ == "__main__":
    main()
