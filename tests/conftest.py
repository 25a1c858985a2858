"""Shared fixtures: one real Restate server and endpoint per test process."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tourlab import Lab
from tourlab._config import PROJECT_ROOT

#: The files that take longest (worker seconds in a full run on this machine, 2026-12-07), in that
#: order. xdist hands out whole files (``--dist loadfile``) in collection order, so starting these
#: first keeps one worker from finishing a long file alone at the end. A file missing here only
#: starts later; nothing else depends on this list.
LONGEST_FIRST = (
    "tests/test_course_rerun.py",  # 409 s
    "tests/test_docker_notebooks.py",  # 174 s
    "tests/test_grader.py",  # 135 s
    "tests/test_hub.py",  # 97 s
    "tests/test_browser.py",  # 95 s
    "tests/test_course_exercises.py",  # 89 s
    "tests/test_browser_beyond.py",  # 77 s
    "notebooks/13_testing.ipynb",  # 40 s
    "notebooks/12_versioning.ipynb",  # 37 s
    "tests/test_tour_testing.py",  # 31 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first (a stable sort: every other file keeps its place and its tests their order)."""
    rank = {path: number for number, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The lab of this test process: a real restate-server plus the Hypercorn endpoint."""
    running = Lab.start("tour/part1")
    yield running
    running.stop()


@pytest.fixture
def course_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Workspaces and progress of the course in this test's temporary folder."""
    monkeypatch.setenv("TOURLAB_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("TOURLAB_PROGRESS", str(tmp_path / "progress.json"))
    return tmp_path


@pytest.fixture
def course_lab(lab: Lab, course_env: Path) -> Iterator[Lab]:
    """The session lab for a course test; back on tour/part1 afterwards for the other tests."""
    yield lab
    lab.load("tour/part1")


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Make a name no other test uses, so tests never share Virtual Object keys."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def copy_part(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Copy a tour checkpoint (e.g. "part1") into a fresh package the test may edit freely."""

    def copy(part: str) -> Path:
        name = f"scratch_{part}_{uuid.uuid4().hex[:8]}"
        target = tmp_path_factory.mktemp("apps") / name
        shutil.copytree(PROJECT_ROOT / "tour" / part, target, ignore=shutil.ignore_patterns("__pycache__"))
        for module in target.glob("*.py"):
            module.write_text(module.read_text().replace(f"tour.{part}.", f"{name}."))
        return target

    return copy
