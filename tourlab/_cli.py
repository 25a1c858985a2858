"""The ``restate`` CLI next to a lab: the environment that points it at the lab's server, and running it."""

from __future__ import annotations

import os
import subprocess

from tourlab import _config
from tourlab._errors import LabError
from tourlab._runtimes import EXPORTED_MARKER


def cli_env(admin_url: str, ingress_url: str) -> dict[str, str]:
    """Environment for the ``restate`` CLI to talk to the server at these URLs."""
    env = {
        "RESTATE_ADMIN_URL": admin_url,
        "RESTATE_INGRESS_URL": ingress_url,
        EXPORTED_MARKER: admin_url,
    }
    cli = _config.cli_binary()
    path = os.environ.get("PATH", "")
    if cli is not None and str(cli.parent) not in path.split(os.pathsep):
        env["PATH"] = f"{cli.parent}{os.pathsep}{path}"
    return env


def export_cli_env(env: dict[str, str], *, external: bool) -> None:
    # `!restate ...` in a notebook runs in a subshell that inherits the kernel's environment.
    if external:  # the user's own RESTATE_* settings already point there
        env = {"PATH": env["PATH"]} if "PATH" in env else {}
    os.environ.update(env)


def run_cli(env: dict[str, str], *args: str, timeout: float = 30.0) -> str:
    """Run the restate CLI with `env` added to the kernel's environment; returns what it printed."""
    cli = _config.cli_binary()
    if cli is None:
        raise LabError(f"The restate CLI is not installed. Install it with:  {_config.INSTALL_HINT}")
    full = {k: v for k, v in os.environ.items() if k != "CLICOLOR_FORCE"}  # set by ipykernel
    full.update({**env, "NO_COLOR": "1", "TERM": "dumb"})
    done = subprocess.run([str(cli), *args], env=full, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise LabError(f"restate {' '.join(args)} failed:\n{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout
