"""The instructor's gradebook: a JupyterHub service that collects every learner's exercise checks.

The hub runs it (``c.JupyterHub.services``) and the proxy serves it at ``/services/gradebook/``.

- ``POST api/results``: a learner's kernel sends one check result (``tourlab.course.report``),
  authenticated by its server's API token. The gradebook asks the hub whose token it is, so
  nobody can post for someone else. Tokens need ``access:services!service=gradebook``.
- ``GET /`` (HTML), ``gradebook.csv``, ``attempts.csv``, ``api/summary`` (JSON): learners x
  exercises, and what the class is stuck on. Only for holders of ``custom:gradebook:read``
  (the instructors), through the hub's OAuth.

Results are kept in SQLite (``$TOURLAB_GRADEBOOK_DB``). The module needs only the standard
library, tornado and jupyterhub, so it can also be mounted into a Zero to JupyterHub hub pod
as a single file.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.ioloop import IOLoop

SERVICE_NAME = "gradebook"
#: The scope that lets someone read the gradebook (granted to the instructors by the hub config).
READ_SCOPE = "custom:gradebook:read"
#: The scope a token needs to post results (every learner's server token has it).
POST_SCOPE = f"access:services!service={SERVICE_NAME}"
DB_ENV = "TOURLAB_GRADEBOOK_DB"
EXERCISES_ENV = "TOURLAB_GRADEBOOK_EXERCISES"
#: Listen on this address instead of the host of the service URL (in a pod: 0.0.0.0).
BIND_ENV = "TOURLAB_GRADEBOOK_BIND"
MAX_MESSAGE = 2000

log = logging.getLogger("tourlab.gradebook")

# -- the record ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExerciseInfo:
    """An exercise as the gradebook shows it."""

    id: str
    section: str
    title: str


def load_exercises() -> list[ExerciseInfo]:
    """The course's exercises: ``$TOURLAB_GRADEBOOK_EXERCISES`` (JSON) or the course package."""
    raw = os.environ.get(EXERCISES_ENV)
    if raw:
        return [ExerciseInfo(**item) for item in json.loads(raw)]
    try:
        from tourlab.course.exercises import EXERCISES
    except ImportError:  # a hub pod without the course: columns come from the results alone
        return []
    return [ExerciseInfo(e.id, e.section, e.title) for e in EXERCISES.values()]


@dataclass(frozen=True)
class Attempt:
    """One check a learner ran."""

    learner: str
    exercise: str
    section: str
    passed: bool
    message: str | None
    sent_at: str | None
    received: float


@dataclass
class Cell:
    """A learner's record on one exercise."""

    learner: str
    exercise: str
    attempts: int = 0
    first_passed: float | None = None
    last_attempt: float | None = None
    last_passed: bool = False
    last_message: str | None = None

    @property
    def status(self) -> str:
        if self.first_passed is not None:
            return "passed"
        return "not yet" if self.attempts else ""


@dataclass
class Stuck:
    """A failing check message on one exercise, and how many learners it holds up."""

    message: str
    stuck_now: int = 0
    learners: set[str] = field(default_factory=set)
    attempts: int = 0


_VARIABLE = re.compile(r"\b(?:inv_[0-9A-Za-z]+|check-[\w]+?-[0-9a-f]{8}|[0-9a-f]{12,})\b")


def message_key(message: str | None) -> str:
    """A failure message with run-specific ids (invocations, check keys) blanked, for grouping."""
    if not message:
        return "(no message)"
    return _VARIABLE.sub("…", message.strip())


class Store:
    """The attempts, in one SQLite table."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS attempts ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, learner TEXT NOT NULL, exercise TEXT NOT NULL,"
            " section TEXT NOT NULL, passed INTEGER NOT NULL, message TEXT, sent_at TEXT, received REAL NOT NULL)"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS attempts_by_learner ON attempts (learner, exercise)")

    def add(self, attempt: Attempt) -> None:
        self.db.execute(
            "INSERT INTO attempts (learner, exercise, section, passed, message, sent_at, received)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                attempt.learner,
                attempt.exercise,
                attempt.section,
                int(attempt.passed),
                attempt.message,
                attempt.sent_at,
                attempt.received,
            ),
        )

    def attempts(self) -> list[Attempt]:
        rows = self.db.execute(
            "SELECT learner, exercise, section, passed, message, sent_at, received FROM attempts ORDER BY id"
        )
        return [Attempt(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]

    def close(self) -> None:
        self.db.close()


def cells(attempts: Iterable[Attempt]) -> dict[tuple[str, str], Cell]:
    """Every learner's record per exercise, from attempts in arrival order."""
    table: dict[tuple[str, str], Cell] = {}
    for a in attempts:
        cell = table.setdefault((a.learner, a.exercise), Cell(a.learner, a.exercise))
        cell.attempts += 1
        cell.last_attempt = a.received
        cell.last_passed = a.passed
        cell.last_message = a.message
        if a.passed and cell.first_passed is None:
            cell.first_passed = a.received
    return table


def stuck(attempts: list[Attempt], limit: int = 3) -> dict[str, list[Stuck]]:
    """Per exercise, the most common failure messages: learners held up now, then learners ever."""
    table = cells(attempts)
    found: dict[str, dict[str, Stuck]] = {}
    for a in attempts:
        if a.passed:
            continue
        key = message_key(a.message)
        entry = found.setdefault(a.exercise, {}).setdefault(key, Stuck(key))
        entry.attempts += 1
        entry.learners.add(a.learner)
    for cell in table.values():
        if cell.status == "not yet":
            found[cell.exercise][message_key(cell.last_message)].stuck_now += 1
    return {
        exercise: sorted(by_message.values(), key=lambda s: (-s.stuck_now, -len(s.learners), -s.attempts))[:limit]
        for exercise, by_message in found.items()
    }


def parse_result(body: bytes, learner: str, received: float) -> Attempt:
    """Validate a posted result (``{"exercise", "section", "passed", "message", "at"}``)."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise ValueError(f"the body is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    exercise, section, passed = data.get("exercise"), data.get("section"), data.get("passed")
    message, sent_at = data.get("message"), data.get("at")
    if not isinstance(exercise, str) or not re.fullmatch(r"[\w.-]{1,100}", exercise):
        raise ValueError("'exercise' must be an exercise id")
    if not isinstance(section, str) or not re.fullmatch(r"[\w.-]{1,100}", section):
        raise ValueError("'section' must be a section id")
    if not isinstance(passed, bool):
        raise ValueError("'passed' must be true or false")
    if message is not None and not isinstance(message, str):
        raise ValueError("'message' must be a string or null")
    if sent_at is not None and not isinstance(sent_at, str):
        raise ValueError("'at' must be a string or null")
    return Attempt(learner, exercise, section, passed, message[:MAX_MESSAGE] if message else None, sent_at, received)


# -- the web service ------------------------------------------------------------------------------


class _Handler(HubOAuthenticated, web.RequestHandler):
    @property
    def store(self) -> Store:
        store: Store = self.settings["store"]
        return store

    @property
    def exercises(self) -> list[ExerciseInfo]:
        exercises: list[ExerciseInfo] = self.settings["exercises"]
        return exercises


class ResultsHandler(_Handler):
    """``POST api/results``: a learner's kernel reports one check (token auth only)."""

    def get_login_url(self) -> str:
        raise web.HTTPError(403, "Send the server's API token: Authorization: token <JUPYTERHUB_API_TOKEN>")

    def post(self) -> None:
        user = self.current_user
        # A browser cookie must not be able to post on the learner's behalf: tokens only.
        if not user or not getattr(self, "_token_authenticated", False):
            raise web.HTTPError(403, "A learner's API token is required.")
        if user.get("kind", "user") != "user":
            raise web.HTTPError(403, "Only users post results.")
        try:
            attempt = parse_result(self.request.body, user["name"], time.time())
        except ValueError as error:
            raise web.HTTPError(400, str(error)) from error
        self.store.add(attempt)
        log.info("%s: %s %s", attempt.learner, attempt.exercise, "passed" if attempt.passed else "not yet")
        self.set_status(201)
        self.finish({"learner": attempt.learner, "exercise": attempt.exercise, "passed": attempt.passed})


class _InstructorHandler(_Handler):
    """Pages for holders of ``custom:gradebook:read`` only."""

    @property
    def hub_scopes(self) -> set[str]:
        return {READ_SCOPE}

    async def learners(self) -> tuple[list[dict[str, Any]], str | None]:
        """The hub's non-admin users (with any other learner who has results), or an error note."""
        users: list[dict[str, Any]] = []
        note = None
        try:
            users = await hub_users(self.hub_auth)
        except (HTTPClientError, OSError, ValueError) as error:
            note = f"The hub's user list is unavailable ({error}); showing learners with results only."
        names = {u["name"] for u in users}
        learners = [u for u in users if not u.get("admin")]
        attempts_by = {a.learner for a in self.store.attempts()}
        learners += [{"name": name} for name in sorted(attempts_by - names)]
        return sorted(learners, key=lambda u: u["name"]), note

    def columns(self, attempts: list[Attempt]) -> list[ExerciseInfo]:
        known = list(self.exercises)
        ids = {e.id for e in known}
        for a in attempts:  # results for exercises the course does not list (yet)
            if a.exercise not in ids:
                known.append(ExerciseInfo(a.exercise, a.section, a.exercise))
                ids.add(a.exercise)
        return known


class SummaryHandler(_InstructorHandler):
    """``GET api/summary``: everything the page shows, as JSON."""

    @web.authenticated
    async def get(self) -> None:
        attempts = self.store.attempts()
        learners, note = await self.learners()
        table = cells(attempts)
        self.finish(
            {
                "learners": [u["name"] for u in learners],
                "exercises": [asdict(e) for e in self.columns(attempts)],
                "cells": [{**_cell_row(c), "status": c.status} for c in sorted(table.values(), key=_cell_order)],
                "stuck": {ex: [_stuck_row(s) for s in entries] for ex, entries in stuck(attempts).items()},
                "note": note,
            }
        )


class CsvHandler(_InstructorHandler):
    """``GET gradebook.csv`` (one row per learner and exercise) and ``attempts.csv`` (every check)."""

    @web.authenticated
    async def get(self, which: str) -> None:
        attempts = self.store.attempts()
        if which == "attempts":
            rows = [ATTEMPT_COLUMNS] + [_attempt_csv(a) for a in attempts]
        else:
            learners, _ = await self.learners()
            table = cells(attempts)
            rows = [SUMMARY_COLUMNS]
            for learner in learners:
                for ex in self.columns(attempts):
                    rows.append(_summary_csv(table.get((learner["name"], ex.id), Cell(learner["name"], ex.id)), ex))
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{which}.csv"')
        self.finish(out.getvalue())


SUMMARY_COLUMNS = [
    "learner",
    "exercise",
    "section",
    "status",
    "attempts",
    "first_passed_at",
    "last_attempt_at",
    "last_message",
]
ATTEMPT_COLUMNS = ["learner", "exercise", "section", "passed", "message", "sent_at", "received_at"]


def _summary_csv(cell: Cell, exercise: ExerciseInfo) -> list[Any]:
    row = _cell_row(cell)
    first, last = row["first_passed_at"] or "", row["last_attempt_at"] or ""
    status = cell.status or "not started"
    return [cell.learner, exercise.id, exercise.section, status, cell.attempts, first, last, cell.last_message or ""]


def _attempt_csv(a: Attempt) -> list[Any]:
    return [a.learner, a.exercise, a.section, a.passed, a.message or "", a.sent_at or "", _iso(a.received)]


def _stuck_row(s: Stuck) -> dict[str, Any]:
    return {"message": s.message, "stuck_now": s.stuck_now, "learners": len(s.learners), "attempts": s.attempts}


class PageHandler(_InstructorHandler):
    """``GET /``: the gradebook as a page."""

    @web.authenticated
    async def get(self) -> None:
        attempts = self.store.attempts()
        learners, note = await self.learners()
        self.finish(render_page(learners, self.columns(attempts), attempts, note, self.settings["prefix"]))


def render_page(
    learners: list[dict[str, Any]],
    exercises: list[ExerciseInfo],
    attempts: list[Attempt],
    note: str | None,
    prefix: str,
) -> str:
    """The gradebook page: a learners x exercises table, then what the class is stuck on."""
    esc = html.escape
    table = cells(attempts)
    head = "".join(f'<th title="{esc(e.title)}">{esc(e.section)}<br>{esc(e.id)}</th>' for e in exercises)
    rows = []
    for learner in learners:
        name = learner["name"]
        passed = sum(1 for e in exercises if table.get((name, e.id), Cell(name, e.id)).status == "passed")
        server = "running" if learner.get("servers", {}).get("", {}).get("ready") else ""
        tds = []
        for e in exercises:
            cell = table.get((name, e.id), Cell(name, e.id))
            if not cell.attempts:
                tds.append('<td class="none">·</td>')
                continue
            when = time.strftime("%H:%M", time.localtime(cell.last_attempt or 0))
            mark = "✓ passed" if cell.status == "passed" else "✗ not yet"
            tip = esc(cell.last_message or "passed", quote=True)
            tds.append(
                f'<td class="{cell.status.replace(" ", "-")}" title="{tip}">{mark}'
                f'<div class="meta">{cell.attempts} attempt{"s" * (cell.attempts != 1)} · last {when}</div></td>'
            )
        rows.append(
            f'<tr><th class="learner">{esc(name)}<div class="meta">{server}</div></th>{"".join(tds)}'
            f'<td class="total">{passed}/{len(exercises)}</td></tr>'
        )
    stuck_items = []
    by_id = {e.id: e for e in exercises}
    for exercise_id, entries in stuck(attempts).items():
        title = by_id[exercise_id].title if exercise_id in by_id else exercise_id
        lis = "".join(
            f"<li><b>{s.stuck_now}</b> stuck now · {len(s.learners)} learner{'s' * (len(s.learners) != 1)} · "
            f"{s.attempts} failed check{'s' * (s.attempts != 1)}<br><code>{esc(s.message)}</code></li>"
            for s in entries
        )
        stuck_items.append(f"<h3>{esc(exercise_id)} <small>{esc(title)}</small></h3><ol>{lis}</ol>")
    note_html = f'<p class="note">{esc(note)}</p>' if note else ""
    stuck_html = "".join(stuck_items) or "<p>No failed checks yet.</p>"
    empty = "" if rows else '<tr><td colspan="99">No learners yet.</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gradebook · Restate Tour Lab</title>
<meta http-equiv="refresh" content="30">
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ddd; padding: 0.35rem 0.6rem; text-align: center; vertical-align: top; }}
thead th {{ background: #f4f4f4; position: sticky; top: 0; font-weight: 600; }}
th.learner {{ text-align: left; }}
td.passed {{ background: #e7f6e7; color: #1d6b1d; }} td.not-yet {{ background: #fdecea; color: #a32020; }}
td.none {{ color: #bbb; }}
.meta {{ color: #666; font-size: 0.75rem; font-weight: normal; }}
code {{ white-space: pre-wrap; }} .note {{ color: #a15c00; }}
</style></head>
<body>
<h1>Gradebook</h1>
<p>{len(learners)} learner{"s" * (len(learners) != 1)} · {len(attempts)} check{"s" * (len(attempts) != 1)} run ·
updated {time.strftime("%H:%M:%S")} (every 30 s) ·
<a href="{prefix}gradebook.csv">gradebook.csv</a> · <a href="{prefix}attempts.csv">attempts.csv</a></p>
{note_html}
<table id="gradebook"><thead><tr><th>Learner</th>{head}<th>Passed</th></tr></thead>
<tbody>{"".join(rows)}{empty}</tbody></table>
<h2>What the class is stuck on</h2>
<div id="stuck">{stuck_html}</div>
</body></html>
"""


async def hub_users(auth: HubOAuth) -> list[dict[str, Any]]:
    """Every user of the hub, page by page (needs ``list:users`` and ``read:users``)."""
    client = AsyncHTTPClient()
    users: list[dict[str, Any]] = []
    offset = 0
    while True:
        request = HTTPRequest(
            f"{auth.api_url.rstrip('/')}/users?{urlencode({'offset': offset, 'limit': 200})}",
            headers={"Authorization": f"token {auth.api_token}", "Accept": "application/jupyterhub-pagination+json"},
            request_timeout=10,
        )
        response = await client.fetch(request)
        page = json.loads(response.body)
        users += page["items"]
        following = page.get("_pagination", {}).get("next")
        if not following:
            return users
        offset = int(following["offset"])


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _cell_row(cell: Cell) -> dict[str, Any]:
    return {
        "learner": cell.learner,
        "exercise": cell.exercise,
        "attempts": cell.attempts,
        "first_passed_at": _iso(cell.first_passed),
        "last_attempt_at": _iso(cell.last_attempt),
        "last_message": cell.last_message,
    }


def _cell_order(cell: Cell) -> tuple[str, str]:
    return (cell.learner, cell.exercise)


def make_app(store: Store, prefix: str, exercises: list[ExerciseInfo]) -> web.Application:
    """The tornado application, routed under the service prefix (``/services/gradebook/``)."""
    prefix = "/" + prefix.strip("/") + "/"
    return web.Application(
        [
            (prefix, PageHandler),
            (prefix + "api/results", ResultsHandler),
            (prefix + "api/summary", SummaryHandler),
            (prefix + r"(gradebook|attempts)\.csv", CsvHandler),
            (prefix + "oauth_callback", HubOAuthCallbackHandler),
            (prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}),
        ],
        store=store,
        exercises=exercises,
        prefix=prefix,
        cookie_secret=os.urandom(32),
    )


def main() -> None:
    """Serve the gradebook where the hub says (``$JUPYTERHUB_SERVICE_URL``)."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s gradebook] %(message)s")
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    store = Store(Path(os.environ.get(DB_ENV, "gradebook.sqlite")))
    app = make_app(store, prefix, load_exercises())
    app.listen(url.port or 80, os.environ.get(BIND_ENV) or url.hostname or "127.0.0.1")
    log.info("Serving %s on %s (results in %s)", prefix, url.netloc, store.path)
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:  # the hub stops its services with SIGINT
        log.info("Stopped")
    finally:
        store.close()


if __name__ == "__main__":
    main()
