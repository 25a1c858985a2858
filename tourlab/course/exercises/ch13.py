"""Chapter 13, testing your handlers: test modules that pass on the shop and catch its planted bugs."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from tourlab import PROJECT_ROOT
from tourlab.course.exercises.hints import error_hint
from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import (
    Probe,
    counted,
)

#: The learner's test modules, in the workspace of section 13: the shop's, then the booking saga's.
TEST_MODULE = "test_shop.py"
BOOKING_TEST_MODULE = "test_booking.py"
#: The wiring the check runs the learner's tests with (SHOP_APP picks the implementation).
_TEST_CONFTEST = "tour/testing/solution/conftest.py"
#: The implementations the learner's tests run against: the reference, then the planted bugs.
REFERENCE_SHOP = "tour.testing.shop.app"
PLANTED_BUGS = {
    "tour.testing.buggy_sold_on_decline.app": "sells the seats and empties the cart although the card was declined",
    "tour.testing.buggy_double_booking.app": "puts a seat into a second cart although another cart holds it",
}
#: The booking saga's planted bugs: what each does, and the hint for tests that miss it.
SAGA_BUGS: dict[str, tuple[str, str | None]] = {
    "tour.testing.buggy_refund_outside_the_journal.app": (
        "pays the refund outside the journal",
        (
            "A refund is an effect on the outside world and must happen once. Under always replay, code that "
            "is not a journaled step runs again at every replay: how much did the user get back?"
        ),
    ),
    "tour.testing.buggy_seats_kept_after_refund.app": (
        "keeps the seats once the card was charged",
        (
            "A failed booking leaves nothing behind, whichever step failed. Your test fails after the charge: "
            "what else had the booking done by then?"
        ),
    ),
}


@dataclass(frozen=True)
class LearnerTestRun:
    """One pytest run of the learner's tests against one implementation of the shop."""

    shop: str
    passed: tuple[str, ...]
    failed: dict[str, str]
    output: str
    #: Why the test module could not be collected (it did not import), if so.
    import_error: str | None = None
    #: Why no test could run at all (every one failed while setting up, or pytest hung), if so.
    broken: str | None = None

    @property
    def ran(self) -> int:
        return len(self.passed) + len(self.failed)


def run_learner_tests(folder: Path, shop: str, module: str = TEST_MODULE, *, timeout: float = 180.0) -> LearnerTestRun:
    """Run `folder`/`module` with pytest in a fresh process against the shop module `shop`.

    The tests run on a copy of `folder` with the course's own conftest.py, so the verdict does not
    depend on the learner's wiring; the copy keeps the package layout, so relative imports work.
    A run whose every test failed while setting up (Restate did not start, say) is tried once more.
    """
    run = _pytest_once(folder, shop, module, timeout)
    if run.broken is not None:
        run = _pytest_once(folder, shop, module, timeout)
    return run


def _pytest_once(folder: Path, shop: str, module: str, timeout: float) -> LearnerTestRun:
    with tempfile.TemporaryDirectory(prefix="tourlab-tests-") as scratch:
        copy = Path(scratch) / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        (copy / "conftest.py").write_text((PROJECT_ROOT / _TEST_CONFTEST).read_text())
        report = Path(scratch) / "report.xml"
        command = [
            sys.executable, "-m", "pytest", "-p", "anyio", "-p", "no:cacheprovider", "-o", "addopts=",
            "-q", "--tb=short", f"--junitxml={report}", str(copy / module),
        ]  # fmt: skip
        env = {**os.environ, "SHOP_APP": shop, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        try:
            done = subprocess.run(
                command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return LearnerTestRun(shop, (), {}, "", broken=f"pytest did not finish within {timeout:g} s")
        output = (done.stdout + done.stderr).replace(f"{scratch}/", "")
        passed: list[str] = []
        failed: dict[str, str] = {}
        setup_errors: list[str] = []
        import_error = None
        cases = list(ElementTree.parse(report).getroot().iter("testcase")) if report.exists() else []
        for case in cases:
            failure = case.find("failure")
            problem = failure if failure is not None else case.find("error")
            name = case.get("name", "?")
            if problem is not None and not case.get("classname"):  # a collection error: no test ran
                import_error = _failure_line(problem)
            elif problem is not None:
                failed[name] = _failure_line(problem)
                if failure is None:  # an error outside the test's own code: a fixture did not set up
                    setup_errors.append(failed[name])
            elif case.find("skipped") is None:
                passed.append(name)
        broken = setup_errors[0] if setup_errors and len(setup_errors) == len(cases) else None
        return LearnerTestRun(shop, tuple(passed), failed, output, import_error, broken)


def _failure_line(problem: ElementTree.Element) -> str:
    """The line that says why a test failed: pytest's first ``E   ...`` line, else the report's message."""
    errors = [line[1:].strip() for line in (problem.text or "").splitlines() if line.startswith("E ")]
    message = next(iter((problem.get("message") or "").strip().splitlines()), problem.tag)
    return errors[0] if errors else message


def _catch_planted_bugs(p: Probe, module: str, bugs: dict[str, tuple[str, str | None]]) -> None:
    """`module` passes against the reference shop and at least one of its tests fails against each bug.

    `bugs` maps each planted bug's app module to what it does and the hint for a module that misses it.
    """
    folder = p.lab.app_dir
    if folder is None or not (folder / module).is_file():
        p.fail(
            f"Your workspace has no {module}: the cells of this chapter write it.",
            f"Run the %%handler {module} cells above (from the first one on), then check again.",
        )
    reference = run_learner_tests(folder, REFERENCE_SHOP, module)
    if reference.broken is not None:
        p.fail(
            f"None of your tests could run against the reference shop: {reference.broken}",
            "If it names your code, fix that; if it names Restate, run the check again "
            "(the output of the tests from the notebook shows the whole message).",
        )
    if reference.import_error is not None:
        p.fail(
            f"pytest could not import {module}: {reference.import_error}",
            error_hint(reference.import_error)
            or "Fix that line of the test module; the message says what Python did not like.",
        )
    if reference.ran == 0:
        last = [line for line in reference.output.splitlines() if line.strip()][-3:]
        p.fail(
            f"pytest ran no test of {module}: {' / '.join(last) or 'no output'}",
            "Test functions start with test_ and are async def with a client parameter, like the ones above.",
        )
    if reference.failed:
        name, message = next(iter(reference.failed.items()))
        p.fail(
            f"{name} fails against the reference shop ({REFERENCE_SHOP}), which is correct: {message}",
            "A test has to pass on correct code: assert what the shop does when it works "
            "(run the tests from the notebook to see the whole message).",
        )
    p.ok(f"all {counted(reference.ran, 'test')} of {module} pass against the reference shop")
    with concurrent.futures.ThreadPoolExecutor(len(bugs)) as pool:
        runs = list(pool.map(lambda shop: run_learner_tests(folder, shop, module), bugs))
    for run in runs:
        bug = run.shop.removeprefix("tour.testing.").removesuffix(".app")
        what, hint = bugs[run.shop]
        if not run.failed:
            p.fail(f"Against {bug}, which {what}, every test passed: none caught that bug.", hint)
        p.ok(f"{bug} is caught: {', '.join(sorted(run.failed))} failed")


def check_catch_double_booking(p: Probe) -> None:
    """Your test_shop.py passes on the reference shop and fails on both planted bugs (section 13).

    Checked by running the learner's test module with pytest (a fresh process, the course's
    conftest.py, always-replay Restate from tour/testing/restate_fixture.py) three times: against
    the reference shop every test passes (at least one test ran); against
    ``buggy_sold_on_decline`` and against ``buggy_double_booking`` at least one test fails.
    """
    keep_declined = "Keep test_a_declined_card_keeps_the_cart_and_the_reservations from above."
    bugs = {shop: (what, None if "double" in shop else keep_declined) for shop, what in PLANTED_BUGS.items()}
    _catch_planted_bugs(p, TEST_MODULE, bugs)


def check_catch_saga_bugs(p: Probe) -> None:
    """Your test_booking.py passes on the reference saga and fails on both of its planted bugs (section 13).

    As ``catch_double_booking``, for ``BookingService/book``: against the reference shop every test
    passes; against ``buggy_refund_outside_the_journal`` (caught only under always replay) and
    ``buggy_seats_kept_after_refund`` at least one test fails.
    """
    _catch_planted_bugs(p, BOOKING_TEST_MODULE, SAGA_BUGS)


CATCH_DOUBLE_BOOKING = Exercise(
    id="catch_double_booking",
    section="13",
    title="test_shop.py passes on the shop and catches both planted bugs",
    file="test_shop.py",
    functions=("test_a_reserved_seat_cannot_go_into_another_cart",),
    # The tests of chapter 13 (a candidate replaces one).
    start_from="tour/testing/solution",
    solution_from="tour/testing/solution",
    skeleton="""\
async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    # TODO: John tries to add the same seat. Assert what must (and must not) happen for him.
""",
    hints=(
        (
            "In the buggy shop addTicket still answers False to John: a test that only looks at that answer "
            "passes. Look at what John ends up with."
        ),
        (
            "Read John's cart with the shared handler cart_tickets, and try his checkout: a seat he never got "
            "must not be in his cart nor be paid for."
        ),
        (
            "assert await client.object_call(add_ticket, key=john, arg=seat) is False, then "
            "assert await client.object_call(cart_tickets, key=john, arg=None) == []"
        ),
    ),
    check=check_catch_double_booking,
)

CATCH_SAGA_BUGS = Exercise(
    id="catch_saga_bugs",
    section="13",
    title="test_booking.py passes on the booking saga and catches both of its planted bugs",
    file=BOOKING_TEST_MODULE,
    functions=("test_a_failure_after_the_charge_is_undone",),
    # The booking tests of chapter 13 (a candidate replaces the one the learner writes).
    start_from="tour/testing/solution",
    solution_from="tour/testing/solution",
    skeleton="""\
async def test_a_failure_after_the_charge_is_undone(client: RestateClient):
    # TODO: book for a user whose last step fails after the card was charged, and assert everything
    # a correct saga leaves behind. It must pass on the reference shop and fail on both planted bugs.
    ...
""",
    hints=(
        (
            "After a failure, a correct saga has undone every step that took effect, each exactly once. Which "
            "steps had run when the tickets could not be mailed, and what must the world look like afterwards? "
            "Remember that the fixture replays always."
        ),
        (
            "mail.bounce_mails_of(user) makes the last step fail (the call raises restate.HttpError, status 422); "
            "payments.amounts_charged(user) and payments.amounts_refunded(user) list each payment; "
            "seat_statuses(client, seats) reads the seats."
        ),
        (
            "with pytest.raises(HttpError): await client.service_call(book, arg={...}); then "
            'assert payments.amounts_refunded(user) == [80] and seat_statuses(...) == ["AVAILABLE", "AVAILABLE"]'
        ),
    ),
    check=check_catch_saga_bugs,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (CATCH_DOUBLE_BOOKING, CATCH_SAGA_BUGS)
