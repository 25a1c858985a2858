"""The gradebook's record keeping, and how a learner's kernel reports a check (tourlab.course.report).

The service behind the hub's real OAuth is tested end to end in test_hub.py; here the pieces
run on their own: the SQLite store, the table and "stuck on" summaries, the validation of a
posted result, and report_check against a real local HTTP server.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tourlab._ports import free_port
from tourlab.course import EXERCISES, Progress, report
from tourlab.hub.config import exercises_json
from tourlab.hub.gradebook import (
    Attempt,
    RegradeForms,
    Store,
    Verified,
    attempt_rows,
    cells,
    load_exercises,
    message_key,
    parse_result,
    render_page,
    stuck,
)

pytestmark = pytest.mark.hub


def attempt(
    learner: str, passed: bool, message: str | None = None, at: float = 0.0, *, solved: bool = False
) -> Attempt:
    return Attempt(learner, "reserve", "04", passed, message, None, at, solved)


def regraded(learner: str, passed: bool | None, message: str | None = None, at: float = 10.0) -> Verified:
    return Verified(learner, "reserve", "04", passed, message, at, 2.5, "docker")


def test_the_store_keeps_attempts_across_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path / "gradebook.sqlite")
    store.add(attempt("ada", False, "wrong", 1.0))
    store.add(attempt("ada", True, None, 2.0))
    store.close()
    reopened = Store(tmp_path / "gradebook.sqlite")
    assert reopened.attempts() == [attempt("ada", False, "wrong", 1.0), attempt("ada", True, None, 2.0)]
    reopened.close()


def test_the_store_keeps_verified_results_and_opens_a_gradebook_from_before_them(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "gradebook.sqlite")
    old.execute(
        "CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, learner TEXT NOT NULL, exercise TEXT NOT NULL,"
        " section TEXT NOT NULL, passed INTEGER NOT NULL, message TEXT, sent_at TEXT, received REAL NOT NULL)"
    )
    old.execute("INSERT INTO attempts VALUES (1, 'ada', 'reserve', '04', 1, NULL, NULL, 1.0)")
    old.commit()
    old.close()
    store = Store(tmp_path / "gradebook.sqlite")
    store.add(attempt("bob", True, None, 2.0, solved=True))
    store.add_verified(regraded("ada", False, "status is None"))
    store.add_verified(Verified("ada", "reserve", "04", True, None, 11.0, 1.0, "local", solution_code=True))
    store.add_verified(regraded("bob", None, "the regrade took more than 270 s and was stopped"))
    assert store.attempts() == [attempt("ada", True, None, 1.0), attempt("bob", True, None, 2.0, solved=True)]
    assert store.verified() == [
        regraded("ada", False, "status is None"),
        Verified("ada", "reserve", "04", True, None, 11.0, 1.0, "local", solution_code=True),
        regraded("bob", None, "the regrade took more than 270 s and was stopped"),
    ]
    store.close()


def test_a_cell_holds_both_the_self_reported_and_the_verified_result() -> None:
    table = cells(
        [attempt("ada", True, at=1.0), attempt("bob", True, at=1.0), attempt("cy", False, "x", at=1.0)],
        [regraded("ada", False, "status is None", 5.0), regraded("bob", False, at=5.0), regraded("bob", True, at=6.0)],
    )
    ada, bob, cy = table[("ada", "reserve")], table[("bob", "reserve")], table[("cy", "reserve")]
    assert (ada.status, ada.verified_status, ada.disagrees) == ("passed", "not passed", True)
    assert (bob.verified_status, bob.disagrees) == ("passed", False)  # the latest regrade counts
    assert (cy.verified_status, cy.disagrees) == ("", False)
    could_not = cells([attempt("dee", True)], [regraded("dee", None, "timeout")])[("dee", "reserve")]
    assert (could_not.verified_status, could_not.disagrees) == ("could not run", False)
    never_checked = cells([], [regraded("eve", True)])[("eve", "reserve")]
    assert (never_checked.attempts, never_checked.verified_status, never_checked.disagrees) == (0, "passed", False)


def test_a_pass_after_the_solution_was_applied_shows_as_such() -> None:
    after = cells([attempt("ada", False, "x", 1.0), attempt("ada", True, None, 2.0, solved=True)])
    assert after[("ada", "reserve")].solution_applied is True
    own_first = cells([attempt("bob", True, None, 1.0), attempt("bob", True, None, 2.0, solved=True)])
    assert own_first[("bob", "reserve")].solution_applied is False  # passed on their own before
    failed_after = cells([attempt("cy", False, "x", 1.0, solved=True)])
    assert failed_after[("cy", "reserve")].solution_applied is False


def test_the_attempts_export_lists_self_reported_and_verified_checks_in_time_order() -> None:
    rows = attempt_rows(
        [attempt("ada", True, None, 1.0, solved=True), attempt("ada", False, "x", 20.0)],
        [regraded("ada", False, "status is None", 10.0)],
    )
    assert [row[3:6] for row in rows] == [
        ["self-reported", True, True],
        ["verified", False, ""],
        ["self-reported", False, False],
    ]
    assert rows[1][6] == "status is None"


def test_a_cell_remembers_the_first_pass_and_the_last_attempt() -> None:
    table = cells([attempt("ada", False, "a", 1.0), attempt("ada", True, None, 2.0), attempt("ada", False, "b", 3.0)])
    cell = table[("ada", "reserve")]
    assert (cell.status, cell.attempts, cell.first_passed, cell.last_attempt) == ("passed", 3, 2.0, 3.0)
    assert cell.last_message == "b"
    assert cells([attempt("bob", False, "a")])[("bob", "reserve")].status == "not yet"


def test_stuck_ranks_messages_by_learners_still_held_up() -> None:
    attempts = [
        attempt("ada", False, "state is wrong"),
        attempt("ada", True),
        attempt("bob", False, "it fails: inv_1a2B3c4D5e6F7g"),
        attempt("cy", False, "it fails: inv_9z8Y7x6W5v4U3t"),
        attempt("dee", False, "state is wrong"),
        attempt("dee", False, "state is wrong"),
    ]
    ranked = stuck(attempts)["reserve"]
    assert [(s.message, s.stuck_now, len(s.learners), s.attempts) for s in ranked] == [
        ("it fails: …", 2, 2, 2),
        ("state is wrong", 1, 2, 3),
    ]


def test_message_keys_blank_run_specific_ids_only() -> None:
    assert message_key("CartObject/check-cart-0a1b2c3d/checkout failed") == "CartObject/…/checkout failed"
    assert message_key("expected 40, got 0 for seat2B") == "expected 40, got 0 for seat2B"
    assert message_key(None) == "(no message)"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"exercise": "../x", "section": "04", "passed": true}', "'exercise'"),
        (b'{"exercise": "reserve", "section": 4, "passed": true}', "'section'"),
        (b'{"exercise": "reserve", "section": "04", "passed": "yes"}', "'passed'"),
        (b'{"exercise": "reserve", "section": "04", "passed": false, "message": 3}', "'message'"),
        (b'{"exercise": "reserve", "section": "04", "passed": true, "solution_applied": 1}', "'solution_applied'"),
    ],
)
def test_a_posted_result_is_validated(body: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_result(body, "ada", 1.0)


def test_a_posted_result_names_the_token_owner_not_the_body() -> None:
    body = json.dumps({"exercise": "reserve", "section": "04", "passed": True, "message": None, "learner": "bob"})
    posted = parse_result(body.encode(), "ada", 5.0)
    assert (posted.learner, posted.solution_applied) == ("ada", False)
    applied = json.dumps({"exercise": "reserve", "section": "04", "passed": True, "solution_applied": True})
    assert parse_result(applied.encode(), "ada", 5.0).solution_applied is True


def test_the_page_escapes_what_learners_send() -> None:
    page = render_page(
        [{"name": "ada"}], load_exercises(), [attempt("ada", False, "<script>alert(1)</script>")], None, "/gb/"
    )
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


def test_the_page_shows_both_results_marks_disagreement_and_applied_solutions() -> None:
    page = render_page(
        [{"name": "ada"}, {"name": "bob"}],
        load_exercises(),
        [attempt("ada", True, None, 1.0), attempt("bob", True, None, 1.0, solved=True)],
        None,
        "/gb/",
        verified=[
            regraded("ada", False, "reserve left the status at None"),
            Verified("bob", "reserve", "04", True, None, 10.0, 2.5, "docker", solution_code=True),
        ],
    )
    ada_row, bob_row = (row for row in page.split("<tr>") if 'class="learner">' in row)
    assert "✓ passed" in ada_row
    assert "✗ verified not passed" in ada_row
    assert 'class="passed disagree"' in ada_row
    assert "self-reported ≠ verified" in ada_row
    assert "verified: reserve left the status at None" in ada_row
    assert "solution applied" in bob_row
    assert "the solution's code" in bob_row
    assert "the solution's code" not in ada_row
    assert "✓ verified passed" in bob_row
    assert "disagree" not in bob_row
    assert "<form" not in page  # no regrade command configured: no buttons


def test_with_a_regrade_command_the_page_has_buttons_that_carry_the_xsrf_token() -> None:
    status = {"running": None, "queued": [], "finished": [
        {"results": 7, "passed": 6, "error": None, "started_at": 100.0, "finished_at": 131.0}
    ]}  # fmt: skip
    forms = RegradeForms("/gb/", "xsrf-token-1", status)
    page = render_page([{"name": "ada"}], load_exercises(), [], None, "/gb/", regrade=forms)
    buttons = re.findall(r'<form class="regrade" method="post" action="/gb/regrade">(.*?)</form>', page)
    assert len(buttons) == 1 + len(EXERCISES) + 1  # the class, each exercise, the learner
    assert all('<input type="hidden" name="_xsrf" value="xsrf-token-1">' in b for b in buttons)
    assert sum('name="learner" value="ada"' in b for b in buttons) == 1
    assert sum('name="exercise" value="reserve"' in b for b in buttons) == 1
    assert "Last regrade: 7 check(s), 6 passed, in 31 s." in page


def test_the_gradebook_lists_the_course_exercises_and_the_hub_hands_them_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert [e.id for e in load_exercises()] == list(EXERCISES)
    monkeypatch.setenv("TOURLAB_GRADEBOOK_EXERCISES", exercises_json())
    assert [(e.id, e.section) for e in load_exercises()] == [(e.id, e.section) for e in EXERCISES.values()]


# -- the learner's side: report_check --------------------------------------------------------------


class Received(BaseHTTPRequestHandler):
    posts: ClassVar[list[tuple[str, dict[str, str], dict[str, object]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.posts.append((self.path, dict(self.headers), body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def gradebook_server() -> Iterator[str]:
    Received.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Received)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/gradebook"
    server.shutdown()
    server.server_close()


def test_report_check_posts_the_contract_with_the_servers_token(
    gradebook_server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOURLAB_GRADEBOOK_URL", gradebook_server + "/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret-token")
    report.report_check("reserve", "04", False, "TicketObject/reserve did not finish")
    assert report.wait_for_reports(5)
    [(path, headers, body)] = Received.posts
    assert path == "/services/gradebook/api/results"
    assert headers["Authorization"] == "token secret-token"
    assert set(body) == {"exercise", "section", "passed", "message", "solution_applied", "at"}
    assert (body["exercise"], body["section"], body["passed"]) == ("reserve", "04", False)
    assert body["message"] == "TicketObject/reserve did not finish"
    assert body["solution_applied"] is False
    assert datetime.fromisoformat(str(body["at"])).tzinfo is not None
    assert capsys.readouterr() == ("", "")


def test_report_check_does_nothing_outside_the_hub(gradebook_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOURLAB_GRADEBOOK_URL", gradebook_server)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    report.report_check("reserve", "04", True, None)
    monkeypatch.delenv("TOURLAB_GRADEBOOK_URL")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret-token")
    report.report_check("reserve", "04", True, None)
    assert report.wait_for_reports(5)
    assert Received.posts == []


def test_report_check_never_raises_or_prints_when_the_gradebook_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOURLAB_GRADEBOOK_URL", f"http://127.0.0.1:{free_port()}/services/gradebook")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret-token")
    report.report_check("reserve", "04", True, None)
    garbage: Any = object()  # wrong types in, still nothing out
    report.report_check(garbage, garbage, garbage, garbage)
    assert report.wait_for_reports(10)
    assert capsys.readouterr() == ("", "")


def test_progress_records_a_pass_after_the_solution_was_applied(tmp_path: Path) -> None:
    progress = Progress(tmp_path / "progress.json")
    assert progress.checked("reserve", passed=False, problem="x") is False
    progress.solution_applied("reserve", "unreserve")
    assert progress.checked("reserve", passed=True, problem=None) is True
    assert progress.checked("expire_ticket", passed=True, problem=None) is False
    records = progress.load()["exercises"]
    assert {"solution_applied_at", "passed_at", "passed_after_solution_at"} <= set(records["reserve"])
    assert "passed_after_solution_at" not in records["expire_ticket"]
    assert "solution_applied_at" in records["unreserve"]


def test_report_check_carries_an_applied_solution(gradebook_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOURLAB_GRADEBOOK_URL", gradebook_server)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret-token")
    report.report_check("reserve", "04", True, None, solution_applied=True)
    assert report.wait_for_reports(5)
    [(_, _, body)] = Received.posts
    assert body["solution_applied"] is True
