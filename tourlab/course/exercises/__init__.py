"""The course's exercises, each declared once in its chapter's module (``chNN.py``).

A declaration (``model.Exercise``) holds everything about an exercise: its section, the workspace
file and functions, the code it starts from, the skeleton, layered hints and the behaviour check.
The section lists (``SectionSpec.exercises``), the tests' starting workspaces and the gradebook's
columns all come from ``EXERCISES``. To add an exercise: declare it in its chapter's module (a new
``chNN.py`` goes into ``CHAPTERS`` below) and add ``tests/solutions/<id>/`` with its candidates.
"""

from __future__ import annotations

from tourlab import Lab, LabError
from tourlab.course.exercises import ch01, ch04, ch05, ch08, ch09, ch10, ch11, ch12, ch13
from tourlab.course.exercises.hints import error_hint
from tourlab.course.exercises.model import CheckResult, Exercise, markdown_text
from tourlab.course.exercises.probe import CheckFailedError, Probe

__all__ = [
    "CHAPTERS",
    "EXERCISES",
    "CheckFailedError",
    "CheckResult",
    "Exercise",
    "Probe",
    "error_hint",
    "find_exercise",
    "markdown_text",
    "run_check",
]

#: The chapter modules, in course order.
CHAPTERS = (ch01, ch04, ch05, ch08, ch09, ch10, ch11, ch12, ch13)
#: Every exercise by id, in course order.
EXERCISES: dict[str, Exercise] = {exercise.id: exercise for chapter in CHAPTERS for exercise in chapter.DECLARED}


def find_exercise(exercise_id: str) -> Exercise:
    """Look an exercise up by its id."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise LabError(f"No exercise {exercise_id!r}; known: {', '.join(EXERCISES)}") from None


def run_check(exercise_id: str, lab: Lab) -> CheckResult:
    """Run one exercise's behaviour check against whatever code the lab serves right now."""
    exercise = find_exercise(exercise_id)
    probe = Probe(lab)
    result = CheckResult(exercise)
    try:
        exercise.check(probe)
    except CheckFailedError as failed:
        result.problem = failed.problem
        result.hint = failed.hint or exercise.hints[0]
    finally:
        probe.cleanup()
    result.passed = probe.passed
    return result
