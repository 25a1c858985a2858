"""The graders of the chapters beyond the tour (11 determinism and replay, 13 testing your handlers).

The candidate cells in ``tests/solutions/deterministic_checkout/`` and
``tests/solutions/catch_double_booking/`` (at least three plausible wrong ones and one right one
written differently, each) run through the real Restate in ``tests/test_grader.py``, like every
exercise's. This module checks what is particular to these two checks: the replay check runs on
a Restate of its own that replays at every step (so the lab's mode does not matter) and rejects
each of the reference's wrong fixes for its own reason; the testing check runs the learner's
tests with the course's own ``conftest.py``, says when there is nothing to run or the module does
not import, and the notebook's cells are the reference files.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from support import exercise_section

from tourlab import Lab, ServerNotInstalledError
from tourlab._config import PROJECT_ROOT
from tourlab.course import EXERCISES, run_check
from tourlab.course.exercises import ch11

SOLUTIONS = Path(__file__).parent / "solutions"
PRACTICE = ("deterministic_checkout", "catch_double_booking")


@pytest.mark.parametrize("exercise_id", PRACTICE)
def test_each_practice_exercise_has_three_wrong_candidates_and_a_right_one(exercise_id: str) -> None:
    files = sorted((SOLUTIONS / exercise_id).glob("*.py"))
    headers = {path.name: path.read_text().splitlines()[0] for path in files}
    wrong = [name for name, header in headers.items() if header.startswith("# WRONG:")]
    right = [name for name, header in headers.items() if header.startswith("# RIGHT:")]
    assert len(wrong) >= 3, headers
    assert right, headers
    assert all("# expect:" in (SOLUTIONS / exercise_id / name).read_text() for name in wrong)


# -- 11: the replay check -----------------------------------------------------------------------

#: The reference's wrong fixes (tour/replay/wrong_fixes/*) and what the check must say about each.
WRONG_FIXES = {
    "module_key": "20 orders got only 1 different payment keys",
    "seeded": "journal mismatch",
    "half": "was never charged",
    "user_key": "20 orders got only 3 different payment keys",
}


@pytest.mark.parametrize(("fix", "problem"), WRONG_FIXES.items())
def test_the_replay_check_rejects_each_wrong_fix_of_the_reference(course_lab: Lab, fix: str, problem: str) -> None:
    course_lab.load(f"tour/replay/wrong_fixes/{fix}")
    result = run_check("deterministic_checkout", course_lab)
    assert not result.ok
    assert problem in (result.problem or ""), repr(result)


def test_the_replay_check_does_not_depend_on_the_lab_replaying(course_lab: Lab) -> None:
    # The session lab does not replay at every step; the check brings a Restate that does.
    assert course_lab.always_replay is False
    before = {call.id for call in course_lab.invocations(target="DiscountCheckout/handle")}
    course_lab.load("tour/replay/wrong_fixes/half")
    assert "was never charged" in (run_check("deterministic_checkout", course_lab).problem or "")
    course_lab.load("tour/replay/solution")
    assert run_check("deterministic_checkout", course_lab).ok
    # And it leaves the lab's own Restate alone: the check's orders never reached it (other tests
    # sharing this lab may have called the handler before).
    assert {call.id for call in course_lab.invocations(target="DiscountCheckout/handle")} == before


def test_the_replay_check_says_when_it_cannot_start_its_restate(
    course_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(*_: object, **__: object) -> None:
        raise ServerNotInstalledError("restate-server 1.7.12 is not installed.")

    monkeypatch.setattr(ch11, "create_runtime", missing)
    course_lab.load("tour/replay/solution")
    result = run_check("deterministic_checkout", course_lab)
    assert not result.ok
    assert "could not start it: restate-server 1.7.12 is not installed." in (result.problem or "")
    assert "Install the pinned restate-server" in (result.hint or "")


# -- 13: the testing check ----------------------------------------------------------------------


def test_the_testing_check_uses_its_own_conftest(course_lab: Lab) -> None:
    # A conftest.py that ignores SHOP_APP would test the same shop three times; one that breaks
    # would fail everything. The check runs the learner's tests with the course's own wiring.
    section = exercise_section(course_lab, "catch_double_booking", "tour/testing/solution", "own_conftest")
    assert section.workspace is not None
    (section.workspace.path / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture(scope='session')\ndef restate_app():\n    raise RuntimeError('mine')\n"
    )
    result = section.check("catch_double_booking")
    assert result.ok, repr(result)
    assert result.passed == [
        "all 6 tests of test_shop.py pass against the reference shop",
        "buggy_sold_on_decline is caught: test_a_declined_card_keeps_the_cart_and_the_reservations failed",
        "buggy_double_booking is caught: test_a_reserved_seat_cannot_go_into_another_cart failed",
    ]


def test_the_testing_check_says_when_there_is_no_test_module(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "catch_double_booking", "tour/testing/shop", "no_tests")
    result = section.check("catch_double_booking")
    assert not result.ok
    assert result.problem == "Your workspace has no test_shop.py: the cells of this chapter write it."
    assert "%%handler test_shop.py" in (result.hint or "")


def test_the_testing_check_names_the_line_when_the_module_does_not_import(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "catch_double_booking", "tour/testing/solution", "broken_module")
    assert section.workspace is not None
    test_module = section.workspace.path / "test_shop.py"
    test_module.write_text(test_module.read_text().replace("KEYS = itertools.count(1)", "KEYS = counter(1)"))
    result = section.check("catch_double_booking")
    assert not result.ok
    assert result.problem == "pytest could not import test_shop.py: NameError: name 'counter' is not defined"


def test_the_testing_check_says_when_pytest_finds_no_test(course_lab: Lab) -> None:
    section = exercise_section(course_lab, "catch_double_booking", "tour/testing/shop", "empty_module")
    assert section.workspace is not None
    (section.workspace.path / "test_shop.py").write_text("def helper() -> int:\n    return 1\n")
    result = section.check("catch_double_booking")
    assert not result.ok
    assert (result.problem or "").startswith("pytest ran no test of test_shop.py")


def test_the_testing_check_says_when_no_test_could_start(course_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fixture takes $RESTATE_SERVER_BIN first: pointed at nothing, every test fails to set up.
    monkeypatch.setenv("RESTATE_SERVER_BIN", "/nonexistent/restate-server")
    section = exercise_section(course_lab, "catch_double_booking", "tour/testing/solution", "no_server")
    result = section.check("catch_double_booking")
    assert not result.ok
    problem = result.problem or ""
    assert problem.startswith("None of your tests could run against the reference shop: FileNotFoundError"), problem
    assert "/nonexistent/restate-server" in problem


# -- the notebook of chapter 13 writes the reference files ---------------------------------------


def _handler_cells(notebook: str, file: str) -> list[str]:
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    head = f"%%handler {file}\n"
    return [c.source.removeprefix(head) for c in nb.cells if c.cell_type == "code" and c.source.startswith(head)]


def _definitions(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {
        ast.unparse(node.targets[0]) if isinstance(node, ast.Assign) else getattr(node, "name", ""): ast.unparse(node)
        for node in tree.body
        if not isinstance(node, ast.Import | ast.ImportFrom)
    }


def test_the_notebook_cells_are_the_reference_conftest_and_tests() -> None:
    solution = PROJECT_ROOT / "tour" / "testing" / "solution"
    [conftest] = _handler_cells("13_testing", "conftest.py")
    assert conftest.strip() == (solution / "conftest.py").read_text().strip()

    written: dict[str, str] = {}
    for cell in _handler_cells("13_testing", "test_shop.py"):
        written.update(_definitions(cell))
    reference = _definitions((solution / "test_shop.py").read_text())
    exercise = EXERCISES["catch_double_booking"]
    # The exercise cell holds the skeleton of the one test the learner completes.
    (skeleton_name,) = exercise.functions
    assert written.pop(skeleton_name) == _definitions(exercise.skeleton)[skeleton_name]
    assert written == {name: text for name, text in reference.items() if name != skeleton_name}
