"""What the learner has done so far, kept in a small git-ignored JSON file.

The file is ``.tourlab/progress.json`` (or ``$TOURLAB_PROGRESS``). It records which sections
were opened and finished and which exercises passed their check, with timestamps, and whether
the reference solution of an exercise was applied before it passed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tourlab._config import LAB_HOME
from tourlab.course.exercises import EXERCISES
from tourlab.course.sections import SECTIONS


def progress_path() -> Path:
    """The progress file: ``$TOURLAB_PROGRESS`` or ``.tourlab/progress.json``."""
    override = os.environ.get("TOURLAB_PROGRESS")
    return Path(override) if override else LAB_HOME / "progress.json"


class Progress:
    """Read and update the progress file; every change is written at once."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or progress_path()

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {"sections": {}, "exercises": {}}
        data.setdefault("sections", {})
        data.setdefault("exercises", {})
        return dict(data)

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self.path)

    def _update(self, kind: str, name: str, field: str) -> None:
        data = self.load()
        data[kind].setdefault(name, {})[field] = time.time()
        self._save(data)

    def opened(self, section_id: str) -> None:
        self._update("sections", section_id, "opened_at")

    def finished(self, section_id: str) -> None:
        self._update("sections", section_id, "finished_at")

    def solution_applied(self, *exercise_ids: str) -> None:
        """Record that the reference solution of these exercises was written or served.

        ``Section.apply_solution`` and ``Section.continue_from_checkpoint`` call it; every later
        check of the exercise is reported as one that ran after the solution was applied.
        """
        data = self.load()
        for exercise_id in exercise_ids:
            data["exercises"].setdefault(exercise_id, {}).setdefault("solution_applied_at", time.time())
        self._save(data)

    def checked(self, exercise_id: str, *, passed: bool, problem: str | None) -> bool:
        """Record one check of an exercise: attempts, when, the last problem, and when it first passed.

        Returns whether the reference solution had been applied before this check (then a pass is
        also recorded as ``passed_after_solution_at``).
        """
        data = self.load()
        record = data["exercises"].setdefault(exercise_id, {})
        record["attempts"] = int(record.get("attempts", 0)) + 1
        record["last_attempt_at"] = time.time()
        record["last_problem"] = problem
        after_solution = "solution_applied_at" in record
        if passed:
            record.setdefault("passed_at", record["last_attempt_at"])
            if after_solution:
                record.setdefault("passed_after_solution_at", record["last_attempt_at"])
        self._save(data)
        return after_solution

    def has_passed(self, exercise_id: str) -> bool:
        return "passed_at" in self.load()["exercises"].get(exercise_id, {})

    def overview(self) -> Overview:
        return Overview(self.load())


@dataclass(frozen=True)
class Overview:
    """A table of the sections with their exercises, for display in a notebook."""

    data: dict[str, Any]

    def rows(self) -> list[tuple[str, str, str]]:
        """(section, state, exercises) for every section of the course."""
        rows = []
        for spec in SECTIONS:
            seen = self.data["sections"].get(spec.id, {})
            state = "finished" if "finished_at" in seen else "opened" if "opened_at" in seen else "-"
            marks = [
                f"{'[x]' if 'passed_at' in self.data['exercises'].get(ex, {}) else '[ ]'} {ex}" for ex in spec.exercises
            ]
            rows.append((f"{spec.notebook}", state, ", ".join(marks)))
        return rows

    @property
    def exercises_passed(self) -> int:
        return sum(1 for ex in EXERCISES if "passed_at" in self.data["exercises"].get(ex, {}))

    def __repr__(self) -> str:
        width = max(len(r[0]) for r in self.rows())
        lines = [f"{'section'.ljust(width)}  {'status':8}  exercises"]
        lines += [f"{name.ljust(width)}  {state:8}  {marks}" for name, state, marks in self.rows()]
        lines.append(f"Exercises passed: {self.exercises_passed} of {len(EXERCISES)}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        # Symbols every font has (no emoji: without an emoji font they all look the same).
        icons = {"finished": "✔ finished", "opened": "○ opened", "-": "·"}
        lines = ["| Section | Status | Exercises |", "|---|---|---|"]
        for name, state, marks in self.rows():
            shown = marks.replace("[x]", "✔").replace("[ ]", "○")
            lines.append(f"| {name} | {icons[state]} | {shown} |")
        lines.append("")
        lines.append(f"Exercises passed: **{self.exercises_passed} of {len(EXERCISES)}**")
        return "\n".join(lines)


def course_overview() -> Overview:
    """Which sections you opened or finished and which exercises passed their check."""
    return Progress().overview()
