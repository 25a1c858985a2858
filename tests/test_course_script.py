"""The ./course entry script: JupyterLab options pass through, learners get their own notebook copies."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tourlab import PROJECT_ROOT

#: What the script needs next to it; the installed environments are linked, not rebuilt.
NEEDED = ["course", "requirements.txt", "package.json", "package-lock.json", "notebooks", "binder"]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A scratch copy of the repository's entry points that uses this checkout's installed packages.

    Its .venv and node_modules link to the real ones' contents, with the install stamps already
    in place: the script must find nothing to install, and so never touches the real ones.
    """
    for name in NEEDED:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(source, tmp_path / name)
    # node_modules: links to the installed packages, and a stamp of its own that matches the copied
    # package files (a stale stamp would make the script `npm ci` into the real node_modules).
    modules = tmp_path / "node_modules"
    modules.mkdir()
    for package in (PROJECT_ROOT / "node_modules").iterdir():
        if package.name != ".tourlab-stamp":
            (modules / package.name).symlink_to(package)
    package_files = (tmp_path / "package.json").read_bytes() + (tmp_path / "package-lock.json").read_bytes()
    (modules / ".tourlab-stamp").write_text(hashlib.sha256(package_files).hexdigest() + "\n")
    venv = tmp_path / ".venv"
    venv.mkdir()
    shutil.copy2(PROJECT_ROOT / ".venv" / "pyvenv.cfg", venv / "pyvenv.cfg")
    for linked in ("bin", "lib"):
        (venv / linked).symlink_to(PROJECT_ROOT / ".venv" / linked)
    stamp = hashlib.sha256((PROJECT_ROOT / "requirements.txt").read_bytes() * 2).hexdigest()
    (venv / ".tourlab-requirements.txt").write_text(stamp + "\n")
    return tmp_path


def run(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["./course", *args], cwd=checkout, capture_output=True, text=True, timeout=300, check=False)


def test_jupyterlab_options_pass_through_without_the_word_lab(checkout: Path):
    done = run(checkout, "--version")  # `jupyter lab --version` prints and exits
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1][0].isdigit(), done.stdout
    assert "usage" not in done.stderr


def test_learners_work_on_their_own_copies_which_are_never_replaced(checkout: Path):
    assert run(checkout, "lab", "--version").returncode == 0
    copies = sorted(path.name for path in (checkout / "my-notebooks").glob("*.ipynb"))
    assert copies == sorted(path.name for path in (checkout / "notebooks").glob("*.ipynb"))

    mine = checkout / "my-notebooks" / "00_getting_started.ipynb"
    edited = json.loads(mine.read_text())
    edited["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": ["my notes"]})
    mine.write_text(json.dumps(edited))
    (checkout / "my-notebooks" / "01_invoking_handlers.ipynb").unlink()

    assert run(checkout, "--version").returncode == 0
    assert "my notes" in mine.read_text()  # kept
    assert (checkout / "my-notebooks" / "01_invoking_handlers.ipynb").is_file()  # a missing copy comes back


def test_unknown_commands_get_the_usage_line(checkout: Path):
    done = run(checkout, "bogus")
    assert done.returncode == 2
    assert "usage: ./course" in done.stderr


def test_the_scratch_checkout_installs_nothing(checkout: Path):
    done = run(checkout, "--version")
    assert done.returncode == 0
    assert "Installing" not in done.stdout + done.stderr


def test_the_course_ignores_learner_files():
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert {"my-notebooks/", "workspace/", ".tourlab/"} <= set(ignored)


def test_the_course_never_culls_a_kernel_whose_notebook_is_open(checkout: Path):
    assert run(checkout, "--version").returncode == 0
    etc = checkout / ".venv" / "etc"  # the scratch environment's own config, where ./course installs its defaults
    server = json.loads((etc / "jupyter" / "jupyter_server_config.json").read_text())["MappingKernelManager"]
    assert server["cull_connected"] is False  # 20 minutes in the editor do not cost the learner their lab
    assert server["cull_idle_timeout"] == 1200  # a kernel nobody is connected to still goes
    kernel = json.loads((etc / "ipython" / "ipython_kernel_config.json").read_text())
    assert "tourlab.course.kernel" in kernel["InteractiveShellApp"]["extensions"]
