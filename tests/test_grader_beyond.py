"""The graders of the chapters beyond the tour: 08 workflows, 09 sagas, 10 external events and concurrency.

The candidate cells in ``tests/solutions/<exercise>/`` of these chapters (at least three plausible
wrong ones and one right one written differently, each) run through the real Restate in
``tests/test_grader.py``, like every exercise's. This module checks what is particular to these
checks: each chapter has its exercises and candidates; the checks drive timers, outages and
cancels, so they must leave the environment, the fake provider and the mail server as they found
them and nothing of theirs running; and a handler that waits for itself or keeps failing is named
at once, not after a timeout.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from support import exercise_section
from test_grader import CANDIDATES

from tour.auxiliary import email_client, payment_client
from tourlab import Lab, poll
from tourlab.course import EXERCISES, SECTIONS, run_check

BEYOND = sorted(e.id for e in EXERCISES.values() if e.section in ("08", "09", "10"))
MINE = [c for c in CANDIDATES if c.exercise_id in BEYOND]


def test_the_chapters_beyond_the_tour_have_their_exercises_and_candidates() -> None:
    listed = sorted(e for spec in SECTIONS if spec.id in ("08", "09", "10") for e in spec.exercises)
    assert listed == BEYOND == sorted(["confirm_payment", "payment_timeout", "booking_compensations", "group_booking"])
    for exercise_id in BEYOND:
        mine = [c for c in MINE if c.exercise_id == exercise_id]
        assert len([c for c in mine if not c.right]) >= 3, exercise_id
        assert [c for c in mine if c.right], exercise_id
        assert all(c.base.startswith("tour/part") for c in mine), exercise_id


def _unfinished_check_invocations(lab: Lab) -> list[dict[str, object]]:
    return lab.query(
        "SELECT id, target, status FROM sys_invocation WHERE status != 'completed' AND target LIKE '%check-%'"
    )


@pytest.mark.parametrize("exercise_id", BEYOND)
def test_a_check_leaves_the_switches_as_it_found_them_and_nothing_running(
    course_lab: Lab, exercise_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A notebook sets its timers through the environment; a check must not change them behind its back.
    monkeypatch.setenv("TOUR_PAYMENT_TIMEOUT_SECONDS", "42")
    course_lab.load(EXERCISES[exercise_id].solution_from)

    assert run_check(exercise_id, course_lab).ok

    assert os.environ["TOUR_PAYMENT_TIMEOUT_SECONDS"] == "42"
    assert asyncio.run(payment_client.charge(f"switch-{exercise_id}", "nobody", 1)) is True  # no outage left on
    email_client.send_tickets("nobody", ["seat"])  # raises if the check left the mail server "down"
    assert poll(lambda: _unfinished_check_invocations(course_lab), lambda rows: rows == [], timeout=5.0).ok


def test_a_compensation_that_keeps_failing_ends_the_saga_check_at_once_naming_it(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "booking_compensations", "tour/part6", "broken_compensation")
    exercise = EXERCISES["booking_compensations"]
    broken = exercise.solution.replace("ctx.object_call(unreserve,", "ctx.object_call(unreserved,")
    assert broken != exercise.solution
    section.write(exercise.file, broken)

    began = time.monotonic()
    result = section.check("booking_compensations")

    assert not result.ok
    # Not the 15 s a finished booking may take, and not the pause after 8 attempts: the bug is named at once.
    assert time.monotonic() - began < 8
    assert "BookingService/book fails instead of finishing: NameError: name 'unreserved' is not defined" in (
        result.problem or ""
    )
    assert "Did you mean unreserve?" in (result.hint or "")


def test_a_confirmation_handler_that_waits_for_its_own_promise_is_named_without_the_timeout(course_lab: Lab) -> None:
    waiting = next(c for c in MINE if c.name == "wrong_waits_for_the_promise")
    section = exercise_section(course_lab, "confirm_payment", waiting.base, "waits_fast")
    section.write("checkout_workflow.py", waiting.cell)

    began = time.monotonic()
    result = section.check("confirm_payment")

    assert not result.ok
    assert time.monotonic() - began < 4  # the probe's 8 s timeout would be the slow way to say it
