"""The course outline: which notebook is which section and where each one starts."""

from __future__ import annotations

from dataclasses import dataclass

from tourlab import LabError
from tourlab.course.exercises import EXERCISES


@dataclass(frozen=True)
class SectionSpec:
    """One notebook of the course.

    ``start_from`` is the reference checkpoint the section's workspace is copied from (None:
    no workspace, the notebook runs ``app`` directly); ``checkpoint`` is the reference solution
    the notebook continues from after its exercises. Its exercises are the ones declared for it
    (``Exercise.section``).
    """

    id: str
    notebook: str
    title: str
    app: str
    start_from: str | None = None
    checkpoint: str | None = None

    @property
    def exercises(self) -> tuple[str, ...]:
        """The ids of this section's exercises, in course order."""
        return tuple(exercise.id for exercise in EXERCISES.values() if exercise.section == self.id)

    @property
    def workspace_name(self) -> str:
        return "s" + self.notebook

    @property
    def label(self) -> str:
        return f"{self.id} · {self.title}"


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("00", "00_getting_started", "Getting started", app="tour/app"),
    SectionSpec(
        "01",
        "01_invoking_handlers",
        "Invoking handlers",
        app="tour/app",
        start_from="tour/app",
        checkpoint="tour/part1",
    ),
    SectionSpec(
        "02",
        "02_durable_execution",
        "Durable execution",
        app="tour/part1",
        start_from="tour/part1",
        checkpoint="tour/part1",
    ),
    SectionSpec(
        "03", "03_scheduling", "Scheduling", app="tour/part1", start_from="tour/part1", checkpoint="tour/part2"
    ),
    SectionSpec(
        "04",
        "04_virtual_objects_and_state",
        "Virtual Objects and state",
        app="tour/part2",
        start_from="tour/part2",
        checkpoint="tour/part3",
    ),
    SectionSpec(
        "05",
        "05_journaling_actions",
        "Journaling actions",
        app="tour/part3",
        start_from="tour/part3",
        checkpoint="tour/part4",
    ),
    SectionSpec("06", "06_idempotency", "Idempotency", app="tour/part4"),
    SectionSpec("07", "07_tracing", "Tracing", app="tour/part4"),
    # Beyond the tour: what Restate's current learning path teaches, in the same ticket app.
    SectionSpec(
        "08",
        "08_workflows",
        "Workflows",
        app="tour/part4",
        start_from="tour/part4",
        checkpoint="tour/part5",
    ),
    SectionSpec(
        "09",
        "09_sagas",
        "Sagas and errors",
        app="tour/part5",
        start_from="tour/part5",
        checkpoint="tour/part6",
    ),
    SectionSpec(
        "10",
        "10_external_events",
        "External events and concurrency",
        app="tour/part6",
        start_from="tour/part6",
        checkpoint="tour/part7",
    ),
    SectionSpec(
        "11",
        "11_replay",
        "Determinism and replay",
        app="tour/replay",
        start_from="tour/replay/exercise",
        checkpoint="tour/replay/solution",
    ),
    # The workspace holds v1; lab.deploy serves v2 next to it as a second deployment.
    SectionSpec(
        "12", "12_versioning", "Versioning with live deployments", app="tour/versions/v1", start_from="tour/versions/v1"
    ),
    # The workspace is the learner's copy of the shop; the notebook adds conftest.py and test_shop.py to it.
    SectionSpec(
        "13",
        "13_testing",
        "Testing your handlers",
        app="tour/testing/shop",
        start_from="tour/testing/shop",
        checkpoint="tour/testing/solution",
    ),
    SectionSpec("14", "14_recap", "Recap", app="tour/part7"),
)


def find_section(name: str) -> SectionSpec:
    """Look a section up by number (``"02"``) or notebook name (``"02_durable_execution"``)."""
    wanted = name.removesuffix(".ipynb")
    for spec in SECTIONS:
        if wanted in (spec.id, spec.notebook):
            return spec
    known = ", ".join(s.notebook for s in SECTIONS)
    raise LabError(f"No section {name!r}; the sections are: {known}")
