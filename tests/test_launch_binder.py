"""Binder (repo2docker): the binder/ folder builds what ./course builds, and start hands over to Jupyter.

repo2docker cannot run here, so the test plays its part: a copy of the repository, a fresh
kernel environment whose packages come from requirements.txt (this venv's, linked in with a .pth
as repo2docker's pip step would have installed them), then ``binder/postBuild`` as the build
does, then ``binder/start <command>`` as every launch does. The command is a kernel-like Python
that starts a real lab from the copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import httpx
import pytest
from support import eventually

from tourlab import _config
from tourlab._ports import free_port

ROOT = _config.PROJECT_ROOT
BINDER = ROOT / "binder"
NOTEBOOK = "notebooks/00_getting_started.ipynb"
#: What the copy needs: the build scripts, the lab, the tour app and the pinned versions.
COPIED = ["binder", "tourlab", "tour", "package.json", "package-lock.json", "requirements.txt", "hypercorn-config.toml"]


def requirement_lines(path: Path) -> list[str]:
    """The requirements a pip -r of `path` installs, following nested -r like pip (relative to the file)."""
    lines: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += requirement_lines(path.parent / line.split(None, 1)[1])
        else:
            lines.append(line)
    return lines


def test_binder_installs_exactly_the_course_requirements() -> None:
    assert requirement_lines(BINDER / "requirements.txt") == requirement_lines(ROOT / "requirements.txt")
    assert "jupyter-server-proxy" in " ".join(requirement_lines(BINDER / "requirements.txt"))


def test_binder_python_matches_the_project() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    minor = int(runtime.split(".")[1])
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required.startswith(">=3.")
    assert minor >= int(required.split(".")[1])


def test_binder_scripts_follow_the_repo2docker_contract() -> None:
    post_build = (BINDER / "postBuild").read_text()
    start = (BINDER / "start").read_text()
    for script in (BINDER / "postBuild", BINDER / "start"):
        assert os.access(script, os.X_OK), f"{script} must be executable"
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in post_build
    assert "npm ci" in post_build
    assert "sudo" not in post_build  # postBuild runs without root
    assert start.rstrip().endswith('exec "$@"')


def test_binder_badge_opens_the_first_notebook() -> None:
    launch = (ROOT / "docs" / "launch.md").read_text()
    assert f"?urlpath=lab/tree/{NOTEBOOK}" in launch
    assert NOTEBOOK in (ROOT / "course").read_text()  # the same notebook ./course opens


CHECK = textwrap.dedent(
    """
    import json, os, shutil
    import tourlab
    from tourlab import Lab, _config
    from tourlab.panels.links import browser_url

    lab = Lab.start("tour/part3")
    try:
        results = [lab.call("CartObject", "binder", "addTicket", "seat1A") for _ in range(2)]
        print(json.dumps({
            "pid": os.getpid(),
            "tourlab": tourlab.__file__,
            "server_binary": str(_config.server_binary()),
            "which_restate": shutil.which("restate"),
            "which_server": shutil.which("restate-server"),
            "runtime_var": os.environ.get("TOURLAB_RUNTIME"),
            "kind": lab.runtime_kind,
            "results": results,
            "jaeger_link": browser_url("http://127.0.0.1:16686/"),
            "restate_ui": lab.restate_ui_url,
        }))
    finally:
        lab.stop()
    """
)


def _binder_env(tmp_path: Path, kernel_env: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTATE_", "TOURLAB_", "npm_config_"))}
    npm_cache = subprocess.run(
        ["npm", "config", "get", "cache"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env.update(
        {
            "KERNEL_PYTHON_PREFIX": str(kernel_env),  # repo2docker sets this for postBuild
            "npm_config_cache": npm_cache,  # reuse this machine's cache instead of a throwaway one
            "npm_config_prefer_offline": "true",
            "TOURLAB_HOME": str(tmp_path / "lab-home"),
            "JUPYTERHUB_SERVICE_PREFIX": "/user/ada/",  # JupyterHub sets it for the kernels
        }
    )
    return env


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed (binder/postBuild runs npm ci)")
def test_binder_post_build_then_start_gives_kernels_a_working_lab(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, repo / name)
    # The kernel environment, with the course's Python packages already installed.
    kernel_env = tmp_path / "kernel-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(kernel_env)], check=True)
    kernel_python = kernel_env / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(kernel_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (purelib / "course_requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = _binder_env(tmp_path, kernel_env)

    try:
        built = subprocess.run(
            ["bash", str(repo / "binder" / "postBuild")],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert built.returncode == 0, f"postBuild failed:\n{built.stdout}\n{built.stderr}"
        assert (purelib / "restate_tour_lab.pth").read_text().strip() == str(repo)
        digest = hashlib.sha256((repo / "package.json").read_bytes() + (repo / "package-lock.json").read_bytes())
        assert (repo / "node_modules" / ".tourlab-stamp").read_text().strip() == digest.hexdigest()

        # Every launch: start, then the command (here a kernel-like Python in another folder).
        launched = subprocess.Popen(
            [str(repo / "binder" / "start"), str(kernel_python), "-c", CHECK],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = launched.communicate(timeout=180)
        assert launched.returncode == 0, f"start + command failed:\n{out}\n{err}"
        seen = json.loads(out.strip().splitlines()[-1])

        # What Binder really launches: start, then JupyterLab, with the defaults postBuild installed.
        jupyter = _jupyter_via_start(repo, kernel_python, env, tmp_path)
    finally:
        shutil.rmtree(repo / "node_modules", ignore_errors=True)  # ~0.4 GB of native binaries

    assert seen["pid"] == launched.pid  # `exec "$@"`: the command replaced the start script
    assert Path(seen["tourlab"]).is_relative_to(repo)  # via the .pth postBuild wrote
    assert Path(seen["server_binary"]).is_relative_to(repo / "node_modules")
    assert seen["which_restate"] is not None
    assert Path(seen["which_restate"]).is_relative_to(repo / "node_modules")
    assert Path(seen["which_server"]).is_relative_to(repo / "node_modules")
    assert seen["runtime_var"] == "embedded"
    assert seen["kind"] == "embedded"
    assert seen["results"] == [True, False]
    assert seen["jaeger_link"] == "/user/ada/proxy/16686/"
    assert seen["restate_ui"] is None  # the Restate UI cannot work under the hub's path prefix

    assert jupyter["kernel_shutdown_on_close"] is True
    assert "Culling kernels with idle durations > 1200 seconds" in jupyter["log"]
    # A kernel whose notebook is open is never culled: a learner may spend 20 minutes in the editor.
    assert "Culling kernels even with connected clients" not in jupyter["log"]


def _jupyter_via_start(repo: Path, kernel_python: Path, env: dict[str, str], tmp_path: Path) -> dict:
    """Run ``binder/start python -m jupyterlab``, start one kernel, read the settings and the log."""
    port = free_port()
    log_path = tmp_path / "jupyter.log"
    jupyter_env = {
        **env,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),  # not this machine's ~/.jupyter
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
    }
    jupyter_env.pop("JUPYTERHUB_SERVICE_PREFIX")
    command = [
        str(repo / "binder" / "start"),
        str(kernel_python),
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.token=binder-test",
        f"--ServerApp.root_dir={repo}",
    ]
    base = f"http://127.0.0.1:{port}"
    params = {"token": "binder-test"}
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=repo, env=jupyter_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(timeout=10) as http:

            def answers() -> bool:
                assert server.poll() is None, log_path.read_text()
                try:
                    return http.get(f"{base}/api/status", params=params).status_code == 200
                except httpx.HTTPError:
                    return False

            assert eventually(answers, timeout=30, interval=0.1), log_path.read_text()
            settings = http.get(f"{base}/lab/api/settings/@jupyterlab/notebook-extension:tracker", params=params)
            assert settings.status_code == 200, settings.text
            kernel = http.post(f"{base}/api/kernels", params=params, json={"name": "python3"})
            assert kernel.status_code == 201, kernel.text
            eventually(lambda: "Culling kernels" in log_path.read_text(), timeout=10, interval=0.1)
            http.delete(f"{base}/api/kernels/{kernel.json()['id']}", params=params)
    finally:
        server.terminate()
        server.wait(30)
    return {
        # overrides.json changes the schema's defaults, which the learner's own settings may still override
        "kernel_shutdown_on_close": settings.json()["schema"]["properties"]["kernelShutdown"]["default"],
        "log": log_path.read_text(),
    }
