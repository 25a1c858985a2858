"""The gradebook's record keeping, and how a learner's kernel reports a check (tourlab.course.report).

The service behind the hub's real OAuth is tested end to end in test_hub.py; here the pieces
run on their own: the SQLite store, the table and "stuck on" summaries, the validation of a
posted result, and report_check against a real local HTTP server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tourlab._ports import free_port
from tourlab.course import report
from tourlab.course.exercises import EXERCISES
from tourlab.hub.config import exercises_json
from tourlab.hub.gradebook import (
    Attempt,
    Store,
    cells,
    load_exercises,
    message_key,
    parse_result,
    render_page,
    stuck,
)

pytestmark = pytest.mark.hub


def attempt(learner: str, passed: bool, message: str | None = None, at: float = 0.0) -> Attempt:
    return Attempt(learner, "reserve", "04", passed, message, None, at)


def test_the_store_keeps_attempts_across_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path / "gradebook.sqlite")
    store.add(attempt("ada", False, "wrong", 1.0))
    store.add(attempt("ada", True, None, 2.0))
    store.close()
    reopened = Store(tmp_path / "gradebook.sqlite")
    assert reopened.attempts() == [attempt("ada", False, "wrong", 1.0), attempt("ada", True, None, 2.0)]
    reopened.close()


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
    ],
)
def test_a_posted_result_is_validated(body: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_result(body, "ada", 1.0)


def test_a_posted_result_names_the_token_owner_not_the_body() -> None:
    body = json.dumps({"exercise": "reserve", "section": "04", "passed": True, "message": None, "learner": "bob"})
    assert parse_result(body.encode(), "ada", 5.0).learner == "ada"


def test_the_page_escapes_what_learners_send() -> None:
    page = render_page(
        [{"name": "ada"}], load_exercises(), [attempt("ada", False, "<script>alert(1)</script>")], None, "/gb/"
    )
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


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
    assert set(body) == {"exercise", "section", "passed", "message", "at"}
    assert (body["exercise"], body["section"], body["passed"]) == ("reserve", "04", False)
    assert body["message"] == "TicketObject/reserve did not finish"
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
