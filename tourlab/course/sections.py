"""The course outline: which notebook is which section and where each one starts."""

from __future__ import annotations

from dataclasses import dataclass

from tourlab import LabError


@dataclass(frozen=True)
class SectionSpec:
    """One notebook of the course.

    ``start_from`` is the reference checkpoint the section's workspace is copied from (None:
    no workspace, the notebook runs ``app`` directly); ``checkpoint`` is the reference solution
    the notebook continues from after its exercises.
    """

    id: str
    notebook: str
    title: str
    app: str
    start_from: str | None = None
    checkpoint: str | None = None
    exercises: tuple[str, ...] = ()

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
        exercises=("checkout_calls_handle",),
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
        exercises=("expire_ticket", "reserve", "unreserve", "mark_as_sold"),
    ),
    SectionSpec(
        "05",
        "05_journaling_actions",
        "Journaling actions",
        app="tour/part3",
        start_from="tour/part3",
        checkpoint="tour/part4",
        exercises=("email_notifications", "checkout_marks_sold"),
    ),
    SectionSpec("06", "06_idempotency", "Idempotency", app="tour/part4"),
    SectionSpec("07", "07_tracing", "Tracing", app="tour/part4"),
    SectionSpec("08", "08_recap", "Recap", app="tour/part4"),
)


def find_section(name: str) -> SectionSpec:
    """Look a section up by number (``"02"``) or notebook name (``"02_durable_execution"``)."""
    wanted = name.removesuffix(".ipynb")
    for spec in SECTIONS:
        if wanted in (spec.id, spec.notebook):
            return spec
    known = ", ".join(s.notebook for s in SECTIONS)
    raise LabError(f"No section {name!r}; the sections are: {known}")
