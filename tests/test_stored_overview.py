"""The stored course overviews (00 and the recap) list exactly the registered exercises, compared by nbval too."""

from __future__ import annotations

import json
import re

import pytest

from tourlab import PROJECT_ROOT
from tourlab.course import EXERCISES, SECTIONS

pytestmark = pytest.mark.unit

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def _overview_cells() -> list[tuple[str, dict]]:
    found = []
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code" and "course_overview()" in "".join(cell["source"]):
                found.append((path.stem, cell))
    return found


def test_the_overview_is_shown_where_the_course_says():
    assert {name for name, _ in _overview_cells()} == {"00_getting_started", "14_recap"}


@pytest.mark.parametrize(
    ("notebook", "cell"), _overview_cells(), ids=lambda value: value if isinstance(value, str) else ""
)
def test_a_stored_overview_lists_every_exercise_of_every_section(notebook: str, cell: dict):
    assert "nbval-ignore-output" not in cell.get("metadata", {}).get("tags", []), "nbval must compare it"
    (output,) = [o for o in cell["outputs"] if "data" in o]
    text = "".join(output["data"]["text/plain"])
    rows = {line.split()[0]: line for line in text.splitlines()[1:] if re.match(r"\d\d_", line)}
    assert list(rows) == [spec.notebook for spec in SECTIONS]
    for spec in SECTIONS:
        listed = re.findall(r"\[.\] (\w+)", rows[spec.notebook])
        assert listed == [e.id for e in EXERCISES.values() if e.section == spec.id], spec.notebook
    assert text.splitlines()[-1] == f"Exercises passed: 0 of {len(EXERCISES)}"
