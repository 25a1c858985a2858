"""The tour's checkpoints cannot drift: each differs from the one before only where its manifest says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tourlab import PROJECT_ROOT

TOUR = PROJECT_ROOT / "tour"
pytestmark = pytest.mark.unit

MANIFEST = tomllib.loads((TOUR / "checkpoints.toml").read_text())


def _normalized(path: Path) -> str:
    """The module's text with its own package name replaced, so copies of one file compare equal."""
    return re.sub(rf"\btour\.{path.parent.name}\b", "tour.<part>", path.read_text())


def _modules(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.py")}


def test_every_checkpoint_is_in_the_manifest():
    parts = {p.name for p in TOUR.glob("part*") if p.is_dir()}
    assert parts == set(MANIFEST)


@pytest.mark.parametrize("part", sorted(MANIFEST))
def test_a_checkpoint_changes_only_what_its_manifest_lists(part: str):
    entry = MANIFEST[part]
    here, before = TOUR / part, TOUR / entry["after"]
    changes = set(entry["changes"])
    unchanged = {
        name for name in _modules(here) & _modules(before) if _normalized(here / name) == _normalized(before / name)
    }
    differs = (_modules(here) | _modules(before)) - unchanged

    assert differs - changes == set(), f"{part} changes files its manifest does not list"
    assert changes - differs == set(), f"{part}'s manifest lists files that equal {entry['after']}'s"
