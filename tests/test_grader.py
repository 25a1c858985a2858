"""The grader against learners' code: plausible wrong solutions fail with the right message, other
correct ones pass. Every candidate is a %%handler cell in tests/solutions/<exercise>/, written
into a fresh workspace the way the magic does it, then checked through the real Restate.

A candidate file starts with comment lines: ``# WRONG: ...`` or ``# RIGHT: ...`` (what it
does), then optionally ``# base: tour/partN`` (the workspace it goes into; default: the exercise's
``start_from``), ``# expect: ...`` (text the problem must contain) and ``# hint: ...`` (text the
hint must contain).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mistune
import pytest
from support import exercise_section

from tour.auxiliary import payment_client
from tourlab import Lab, poll
from tourlab.course import EXERCISES
from tourlab.course.exercises import error_hint

SOLUTIONS = Path(__file__).parent / "solutions"
#: The workspace each exercise's candidates go into: the code its declaration starts from.
DEFAULT_BASE = {exercise_id: exercise.start_from for exercise_id, exercise in EXERCISES.items()}


@dataclass(frozen=True)
class Candidate:
    exercise_id: str
    name: str
    right: bool
    about: str
    base: str
    expect: str | None
    hint: str | None
    cell: str


def _load(path: Path) -> Candidate:
    lines = path.read_text().splitlines(keepends=True)
    fields: dict[str, str] = {}
    while lines and lines[0].startswith("# ") and ":" in lines[0]:
        label, _, value = lines.pop(0)[2:].partition(":")
        fields[label.strip()] = value.strip()
    right = "RIGHT" in fields
    exercise_id = path.parent.name
    return Candidate(
        exercise_id=exercise_id,
        name=path.stem,
        right=right,
        about=fields.get("RIGHT") or fields["WRONG"],
        base=fields.get("base", DEFAULT_BASE[exercise_id]),
        expect=fields.get("expect"),
        hint=fields.get("hint"),
        cell="".join(lines),
    )


CANDIDATES = [_load(path) for path in sorted(SOLUTIONS.glob("*/*.py"))]


def test_every_exercise_has_three_wrong_solutions_and_a_right_one() -> None:
    for exercise_id in EXERCISES:
        mine = [c for c in CANDIDATES if c.exercise_id == exercise_id]
        assert len([c for c in mine if not c.right]) >= 3, exercise_id
        assert [c for c in mine if c.right], exercise_id
    assert all(c.right or c.expect for c in CANDIDATES), "every wrong candidate says what the check must report"


@pytest.mark.parametrize("candidate", CANDIDATES, ids=lambda c: f"{c.exercise_id}/{c.name}")
def test_candidate_solution(course_lab: Lab, candidate: Candidate) -> None:
    exercise = EXERCISES[candidate.exercise_id]
    section = exercise_section(course_lab, candidate.exercise_id, candidate.base, candidate.name)
    section.write(exercise.file, candidate.cell)

    result = section.check(candidate.exercise_id)

    if candidate.right:
        assert result.ok, f"{candidate.about}\n{result!r}"
        assert len(result.passed) >= 3
        return
    assert not result.ok, f"passed although: {candidate.about}\n{result!r}"
    assert candidate.expect in (result.problem or ""), f"{candidate.about}\n{result!r}"
    if candidate.hint:
        assert candidate.hint in (result.hint or ""), f"{candidate.about}\n{result!r}"
    assert "Now serving: your workspace (workspace/t_" in repr(result)


def test_a_callee_retrying_a_passing_failure_is_named_when_the_check_gives_up(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "checkout_calls_handle", "tour/part1", "broken_callee")
    section.write(
        "checkout_service.py",
        "@checkout_service.handler()\nasync def handle(ctx: Context, order: Order) -> bool:\n"
        '    raise ConnectionError("payment provider unreachable")\n',
    )

    result = section.check("checkout_calls_handle")

    assert not result.ok
    problem = result.problem or ""
    # A ConnectionError may pass, so the check waits it out (one that looks like a bug ends it at once,
    # see the markdown test); then it names the callee and its error, not just "did not finish within 8 s".
    assert "CartObject/<key>/checkout cannot finish: it waits for CheckoutService/handle" in problem
    assert "ConnectionError: payment provider unreachable (checkout_service.py line" in problem
    assert "The error is in CheckoutService/handle" in (result.hint or "")

    # The check killed what it left stuck: no call of it to handle keeps retrying.
    def retrying() -> list[dict[str, object]]:
        return course_lab.query(
            "SELECT id FROM sys_invocation WHERE target = 'CheckoutService/handle' "
            "AND invoked_by_target LIKE 'CartObject/check-cart-%' AND status != 'completed'"
        )

    assert poll(retrying, lambda rows: rows == [], timeout=5.0).ok


def test_a_failing_message_target_is_named(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "checkout_marks_sold", "tour/part4", "broken_target")
    section.write(
        "ticket_object.py",
        '@ticket.handler("markAsSold")\nasync def mark_as_sold(ctx: ObjectContext) -> None:\n'
        '    raise ValueError("no such seat")\n',
    )

    result = section.check("checkout_marks_sold")

    assert not result.ok
    assert "TicketObject/<key>/markAsSold keeps failing: ValueError: no such seat" in (result.problem or "")
    assert "The error is in TicketObject/<key>/markAsSold" in (result.hint or "")


def test_checkout_marks_sold_says_when_handle_ignores_the_payment(course_lab: Lab) -> None:
    exercise = EXERCISES["checkout_marks_sold"]
    section = exercise_section(course_lab, "checkout_marks_sold", "tour/part3", "handle_never_pays")
    section.write(exercise.file, exercise.solution)

    result = section.check("checkout_marks_sold")

    assert not result.ok
    assert "made payment_client.call decline, but CheckoutService/handle still answered True" in (result.problem or "")
    assert 'section.check("email_notifications")' in (result.hint or "")


def test_a_missing_import_at_load_time_gets_an_import_hint(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "checkout_calls_handle", "tour/app", "load_time_import")
    shown = section.write(
        "cart_object.py",
        'def make_order(user_id: str) -> Order:\n    return {"user_id": user_id, "tickets": ["seat2B"]}\n',
    )
    assert "✘ Your handler code did not load" in shown.text

    result = section.check("checkout_calls_handle")

    assert not result.ok
    assert "NameError: name 'Order' is not defined" in (result.problem or "")
    assert "nothing was checked" in (result.problem or "")
    assert "from .checkout_service import Order" in (result.hint or "")
    assert "Still serving: the last version of your workspace (workspace/t_checkout_calls_handle_" in repr(result)


def test_error_hints_point_at_the_import_or_the_definition() -> None:
    cart_error = "NameError: name 'mark_as_sold' is not defined (cart_object.py line 30, in checkout)"
    assert "from .ticket_object import mark_as_sold" in (error_hint(cart_error) or "")
    ticket_error = "NameError: name 'AVAILABLE' is not defined (ticket_object.py line 9, in reserve)"
    assert 'AVAILABLE = "AVAILABLE"' in (error_hint(ticket_error) or "")
    assert "from restate import RunOptions" in (error_hint("NameError: name 'RunOptions' is not defined") or "")
    assert "Did you mean cart?" in (error_hint("NameError: name 'kart' is not defined") or "")
    assert error_hint("ValueError: boom") is None


def test_the_markdown_shows_targets_and_marks_without_emoji(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "checkout_calls_handle", "tour/part1", "markdown")
    section.write(
        "checkout_service.py",
        "@checkout_service.handler()\nasync def handle(ctx: Context, order: Order) -> bool:\n"
        '    raise ValueError("declined <today>")\n',
    )
    failed = section.check("checkout_calls_handle")
    section.apply_solution("checkout_calls_handle")
    section.write(
        "checkout_service.py",
        "@checkout_service.handler()\nasync def handle(ctx: Context, order: Order) -> bool:\n    return True\n",
    )
    passed = section.check("checkout_calls_handle")
    assert passed.ok, repr(passed)

    for result in (failed, passed):
        markdown = result._repr_markdown_()
        assert not any(0x1F000 <= ord(char) <= 0x1FAFF or char in "✅❌" for char in markdown)
        html = mistune.html(markdown)
        assert "Now serving: your workspace (workspace/t_checkout_calls_handle_markdown/)" in html
    failed_html = mistune.html(failed._repr_markdown_())
    assert "✘ <strong>Not yet</strong>" in failed_html
    assert "CartObject/&lt;key&gt;/checkout cannot finish" in failed_html
    assert "declined &lt;today&gt;" in failed_html
    assert "✔ <strong>Passed</strong>" in mistune.html(passed._repr_markdown_())


def test_the_payment_provider_can_be_switched_to_decline() -> None:
    import asyncio

    payment_client.decline_payments(True)
    try:
        assert asyncio.run(payment_client.call("switch-test", 40)) is False
    finally:
        payment_client.decline_payments(False)
    assert asyncio.run(payment_client.call("switch-test", 40)) is True
    assert [c.succeeded for c in payment_client.charges("switch-test")] == [False, True]
