"""Every exercise check, through the real Restate: the reference passes, the skeleton gets a hint."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
from support import exercise_section

from tourlab import Lab
from tourlab._config import PROJECT_ROOT
from tourlab.course import EXERCISES, Progress, find_section, open_section, run_check
from tourlab.course.exercises import Probe

SOLUTIONS = Path(__file__).parent / "solutions"
_SANITIZER = configparser.ConfigParser()
_SANITIZER.read(PROJECT_ROOT / "notebooks" / "sanitize.cfg")
CHECK_KEY = re.compile(_SANITIZER["check_key"]["regex"])
#: What the check reports for each exercise's skeleton: ``tests/solutions/<id>/skeleton.expect``.
EXPECTED_PROBLEM = {path.parent.name: path.read_text().strip() for path in sorted(SOLUTIONS.glob("*/skeleton.expect"))}


def test_every_exercise_has_an_expected_failure() -> None:
    assert set(EXPECTED_PROBLEM) == set(EXERCISES)


def test_exercises_are_listed_in_course_order() -> None:
    """The gradebook's columns and the recap's progress list follow this order."""
    listed = [
        (exercise.section, find_section(exercise.section).exercises.index(exercise.id))
        for exercise in EXERCISES.values()
    ]
    assert listed == sorted(listed)


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_reference_solution_passes(course_lab: Lab, exercise_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    keys: list[str] = []
    original = Probe.key

    def recording(probe: Probe, name: str) -> str:
        keys.append(original(probe, name))
        return keys[-1]

    monkeypatch.setattr(Probe, "key", recording)
    course_lab.load(EXERCISES[exercise_id].solution_from)
    result = run_check(exercise_id, course_lab)
    assert result.ok, repr(result)
    assert len(result.passed) >= 2
    assert repr(result).startswith("PASSED")
    # The keys the check made up are hidden by the notebooks' sanitizer, so stored outputs stay stable.
    assert [key for key in keys if not CHECK_KEY.fullmatch(key)] == []


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_skeleton_fails_with_a_hint_and_the_solution_fixes_it(course_lab: Lab, exercise_id: str) -> None:
    exercise = EXERCISES[exercise_id]
    section = exercise_section(course_lab, exercise_id, exercise.solution_from)
    section.write(exercise.file, exercise.skeleton)

    failed = section.check(exercise_id)
    assert not failed.ok
    assert EXPECTED_PROBLEM[exercise_id] in (failed.problem or ""), failed.problem
    # The hint fits this failure: the exercise's first (conceptual) one or the check's own, never the API or the code.
    assert failed.hint is not None
    assert failed.hint not in exercise.hints[1:]
    shown = repr(failed)
    assert shown.startswith("NOT YET")
    assert f"Hint: {failed.hint}" in shown
    assert "Now serving: your workspace (workspace/t_" in shown
    assert f'section.hint("{exercise_id}")' in shown
    assert not Progress().has_passed(exercise_id)

    section.apply_solution(exercise_id)
    passed = section.check(exercise_id)
    assert passed.ok, repr(passed)
    assert Progress().has_passed(exercise_id)


def test_hints_come_in_layers(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "reserve", "tour/part2")
    assert section.hint("reserve").text.count("Hint") == 2
    last = section.hint("reserve").text
    assert "Hint 3/3" in last
    assert "section.solution('reserve')" in last
    assert "<details>" in section.solution("reserve")._repr_html_()


def test_open_section_creates_the_workspace_once_and_serves_it(course_lab: Lab, course_env: Path) -> None:
    section = open_section("02_durable_execution", lab=course_lab, show=False)
    assert section.created
    assert section.workspace is not None
    assert section.workspace.path == course_env / "workspace" / "s02_durable_execution"
    assert course_lab.loaded is not None
    assert course_lab.loaded.package == "s02_durable_execution"

    # Editing in the editor, then reloading, serves the edit.
    cart = section.workspace.path / "cart_object.py"
    cart.write_text(
        cart.read_text().replace("return await ctx.object_call(reserve", "return not await ctx.object_call(reserve")
    )
    section.reload()
    assert course_lab.call("CartObject", "editor-user", "addTicket", "seat1") is False

    again = open_section("02", lab=course_lab, show=False)
    assert not again.created
    assert "return not await" in cart.read_text()
    assert "kept from last time" in repr(again.header())


def test_a_broken_cell_keeps_the_previous_code_serving(course_lab: Lab, course_env: Path) -> None:
    section = open_section("01_invoking_handlers", lab=course_lab, show=False)
    shown = section.write(
        "cart_object.py",
        "@cart.handler()\nasync def checkout(ctx: ObjectContext) -> bool:\n    return True\n\n\n"
        "broken = undefined_name\n",
    )
    assert re.search(r"✘ Your handler code did not load \(.*cart_object\.py, line \d+\)", shown.text)
    assert course_lab.call("CartObject", "broken-user", "addTicket", "seat1") is True


def test_reset_is_a_two_step_action(course_lab: Lab, course_env: Path) -> None:
    section = open_section("01", lab=course_lab, show=False)
    section.write(
        "checkout_service.py",
        "@checkout_service.handler()\nasync def handle(ctx: Context, order: Order) -> bool:\n    return False\n",
    )
    assert "Nothing changed" in section.reset().text
    assert "return False" in section.workspace.read("checkout_service.py")  # type: ignore[union-attr]
    done = section.reset(confirm=True).text
    assert "back at its starting point" in done
    assert "workspace/.backups/" in done
    assert "return False" not in section.workspace.read("checkout_service.py")  # type: ignore[union-attr]


def test_a_check_on_code_that_does_not_load_says_where(course_lab: Lab, course_env: Path) -> None:
    section = open_section("01_invoking_handlers", lab=course_lab, show=False)
    assert section.workspace is not None
    cart = section.workspace.path / "cart_object.py"
    cart.write_text(cart.read_text() + "\nbroken = undefined_name\n")
    result = section.check("checkout_calls_handle")
    assert not result.ok
    assert "cart_object.py, line" in (result.problem or "")
    assert "NameError" in (result.problem or "")


def test_a_section_waits_until_an_invocation_waits_for_something(
    course_lab: Lab, course_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    section = exercise_section(course_lab, "confirm_payment", "tour/part5")
    submitted = course_lab.submit("CheckoutWorkflow", "wait-demo", {"user_id": "Wes", "tickets": ["seatW1"]})
    # part5 races the payment promise against a timer.
    waiting = section.wait_until_waiting(submitted.invocation_id, "promise 'payment'")
    assert waiting.startswith("promise 'payment' or a timer (until "), waiting
    # A wait that times out shows one ✘ line with what it saw, and Run All goes on.
    seen = section.wait_until_waiting(submitted.invocation_id, "an awakeable", timeout=0.2)
    assert seen.startswith("promise 'payment'")
    shown = capsys.readouterr().out
    assert re.match(r"✘ .* was not waiting for an awakeable within 0\.2 s \(seen: .*promise 'payment'", shown)
