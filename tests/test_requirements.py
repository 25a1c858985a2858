"""What the course imports, `./course` installs: no learner-facing code leans on the test suite's packages.

`./course test` installs requirements-dev.txt, so a notebook that needs a dev-only package (chapter 13
needed pytest) passes every test here and fails on a learner's install. These tests read the
imports of the code each command serves and check them against what its requirements file pulls in.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tourlab import PROJECT_ROOT

pytestmark = pytest.mark.unit

OURS = {"tourlab", "tour"}


def _sources(root: Path, skip: Path | None = None) -> Iterable[tuple[str, str]]:
    """(where, Python source) of every module below `root` and every code cell of its notebooks."""
    for path in sorted(root.rglob("*.py")):
        if skip is None or not path.is_relative_to(skip):
            yield str(path.relative_to(PROJECT_ROOT)), path.read_text()
    for path in sorted(root.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for number, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                python = [line for line in lines if not line.lstrip().startswith(("%", "!"))]  # magics, shell
                yield f"{path.relative_to(PROJECT_ROOT)} cell {number}", "\n".join(python)


def _imported(sources: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Top-level modules imported from outside the standard library and this project → where first."""
    found: dict[str, str] = {}
    for where, source in sources:
        for node in ast.walk(ast.parse(source, where)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in OURS:
                    found.setdefault(top, where)
    return found


def _installed_by(requirements: Path) -> set[str]:
    """Every distribution that `pip install -r requirements` brings in, dependencies and extras included."""
    included: set[str] = set()
    wanted: list[Requirement] = []
    for text in requirements.read_text().splitlines():
        line = text.partition("#")[0].strip()
        if line.startswith("-r "):
            included |= _installed_by(requirements.parent / line[3:].strip())
        elif line:
            wanted.append(Requirement(line))
    seen: set[tuple[str, frozenset[str]]] = set()
    while wanted:
        requirement = wanted.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            needs = distribution(requirement.name).requires or []
        except PackageNotFoundError:
            continue  # not for this platform (its marker said so), or the check below reports it
        for need in map(Requirement, needs):
            extras = requirement.extras or {""}
            if need.marker is None or any(need.marker.evaluate({"extra": extra}) for extra in extras):
                wanted.append(need)
    return included | {name for name, _ in seen}


COMMANDS = {
    "./course": ("requirements.txt", [("tourlab", "tourlab/hub"), ("tour", None), ("notebooks", None)]),
    "./course hub": ("requirements-hub.txt", [("tourlab/hub", None)]),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_import_of_the_code_a_command_serves_is_installed_by_it(command: str) -> None:
    requirements, roots = COMMANDS[command]
    sources = [
        source
        for root, skip in roots
        for source in _sources(PROJECT_ROOT / root, PROJECT_ROOT / skip if skip else None)
    ]
    imported = _imported(sources)
    installed = _installed_by(PROJECT_ROOT / requirements)
    providers = packages_distributions()
    missing = {
        module: where
        for module, where in imported.items()
        if not {canonicalize_name(name) for name in providers.get(module, [])} & installed
    }
    assert not missing, f"{command} installs {requirements}, which does not bring in: {missing}"


def test_the_scan_reads_notebook_cells_and_leaves_out_the_standard_library_and_ours() -> None:
    imported = _imported(_sources(PROJECT_ROOT / "notebooks"))
    assert imported["restate"].startswith("notebooks/")
    assert " cell " in imported["restate"]
    assert "pytest" in _imported(_sources(PROJECT_ROOT / "tour"))  # the fixture and the tests of chapter 13
    assert set(_imported([("x", "import os.path\nfrom tourlab import Lab\nfrom . import app")])) == set()


def test_the_requirement_walk_finds_dependencies_and_extras() -> None:
    installed = _installed_by(PROJECT_ROOT / "requirements.txt")
    assert {"restate-sdk", "jupyterlab", "jupyter-server"} <= installed  # listed, and a dependency
    assert not {"pytest-xdist", "playwright"} & installed  # dev only
    assert "jupyterhub" in _installed_by(PROJECT_ROOT / "requirements-hub.txt")  # through -r requirements.txt too


def test_the_learners_pytest_run_needs_no_plugin_of_the_test_suite() -> None:
    """Chapter 13's pytest run, in this repository, with only what ./course installs: anyio's plugin.

    The repository's pytest settings (pyproject.toml) apply to it too, so they may not name an option
    of a dev-only plugin (its `--nbval` did: every run failed with "unrecognized arguments").
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    tests = PROJECT_ROOT / "tour" / "testing" / "solution" / "test_shop.py"
    command = [sys.executable, "-m", "pytest", "-p", "anyio", "-p", "no:cacheprovider", "-q", "--collect-only"]
    run = subprocess.run(
        [*command, str(tests)], cwd=PROJECT_ROOT / "notebooks", env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 tests collected" in run.stdout
