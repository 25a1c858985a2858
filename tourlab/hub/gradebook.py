"""The instructor's gradebook: a JupyterHub service that collects every learner's exercise checks.

The hub runs it (``c.JupyterHub.services``) and the proxy serves it at ``/services/gradebook/``.

- ``POST api/results``: a learner's kernel sends one check result (``tourlab.course.report``),
  authenticated by its server's API token. The gradebook asks the hub whose token it is, so
  nobody can post for someone else. Tokens need ``access:services!service=gradebook``. These
  results are **self-reported**: the learner's own kernel ran the check and may say anything.
- ``POST regrade`` (form or JSON: ``learner``, ``exercise``, both optional) and
  ``GET api/regrade``: re-run the checks on the learners' current workspace files with the
  command in ``$TOURLAB_GRADEBOOK_REGRADE`` (``./course hub regrade --json-lines``, which runs
  each learner's code in a container or a child process, never here). Its results are stored
  as **verified**, beside the self-reported ones.
- ``GET /`` (HTML), ``gradebook.csv``, ``attempts.csv``, ``api/summary`` (JSON): learners x
  exercises, self-reported and verified, and what the class is stuck on. Only for holders of
  ``custom:gradebook:read`` (the instructors), through the hub's OAuth.

Results are kept in SQLite (``$TOURLAB_GRADEBOOK_DB``). This module is one self-contained file
by design: it needs only the standard library, tornado and jupyterhub, so it can be mounted
into a Zero to JupyterHub hub pod as a single file (without the regrade command there).
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import itertools
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
#: The regrade command (a JSON list), to which ``--learner``/``--exercise`` flags are added.
REGRADE_ENV = "TOURLAB_GRADEBOOK_REGRADE"
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
        from tourlab.course import EXERCISES
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
    #: The learner had applied the exercise's reference solution (or continued from the checkpoint).
    solution_applied: bool = False


@dataclass(frozen=True)
class Verified:
    """One check a regrade ran on the learner's workspace; ``passed`` is None if it could not run."""

    learner: str
    exercise: str
    section: str
    passed: bool | None
    message: str | None
    ran_at: float
    seconds: float
    runner: str
    #: The exercise's functions in the workspace are the reference solution's, statement for statement.
    solution_code: bool = False


@dataclass
class Cell:
    """A learner's record on one exercise: what their kernel reported, and the latest regrade."""

    learner: str
    exercise: str
    attempts: int = 0
    first_passed: float | None = None
    last_attempt: float | None = None
    last_passed: bool = False
    last_message: str | None = None
    passed_on_own: bool = False
    passed_with_solution: bool = False
    verified: Verified | None = None

    @property
    def status(self) -> str:
        """Self-reported: "passed", "not yet" or "" (never checked)."""
        if self.first_passed is not None:
            return "passed"
        return "not yet" if self.attempts else ""

    @property
    def solution_applied(self) -> bool:
        """Every self-reported pass came after the reference solution was applied."""
        return self.passed_with_solution and not self.passed_on_own

    @property
    def verified_status(self) -> str:
        """The latest regrade: "passed", "not passed", "could not run" or "" (never regraded)."""
        if self.verified is None:
            return ""
        return {True: "passed", False: "not passed", None: "could not run"}[self.verified.passed]

    @property
    def disagrees(self) -> bool:
        """The regrade's verdict differs from what the learner's kernel reported (if it reported anything)."""
        if self.verified is None or self.verified.passed is None or not self.attempts:
            return False
        return self.verified.passed != (self.status == "passed")


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
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(attempts)")}
        if "solution_applied" not in columns:  # a gradebook from before solutions were reported
            self.db.execute("ALTER TABLE attempts ADD COLUMN solution_applied INTEGER NOT NULL DEFAULT 0")
        self.db.execute("CREATE INDEX IF NOT EXISTS attempts_by_learner ON attempts (learner, exercise)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS verified ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, learner TEXT NOT NULL, exercise TEXT NOT NULL,"
            " section TEXT NOT NULL, passed INTEGER, message TEXT, ran_at REAL NOT NULL, seconds REAL NOT NULL,"
            " runner TEXT NOT NULL, solution_code INTEGER NOT NULL DEFAULT 0)"
        )

    def add(self, attempt: Attempt) -> None:
        self.db.execute(
            "INSERT INTO attempts (learner, exercise, section, passed, message, sent_at, received, solution_applied)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                attempt.learner,
                attempt.exercise,
                attempt.section,
                int(attempt.passed),
                attempt.message,
                attempt.sent_at,
                attempt.received,
                int(attempt.solution_applied),
            ),
        )

    def attempts(self) -> list[Attempt]:
        rows = self.db.execute(
            "SELECT learner, exercise, section, passed, message, sent_at, received, solution_applied"
            " FROM attempts ORDER BY id"
        )
        return [Attempt(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], bool(r[7])) for r in rows]

    def add_verified(self, result: Verified) -> None:
        self.db.execute(
            "INSERT INTO verified (learner, exercise, section, passed, message, ran_at, seconds, runner, solution_code)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                result.learner,
                result.exercise,
                result.section,
                None if result.passed is None else int(result.passed),
                result.message[:MAX_MESSAGE] if result.message else None,
                result.ran_at,
                result.seconds,
                result.runner,
                int(result.solution_code),
            ),
        )

    def verified(self) -> list[Verified]:
        rows = self.db.execute(
            "SELECT learner, exercise, section, passed, message, ran_at, seconds, runner, solution_code"
            " FROM verified ORDER BY id"
        )
        return [
            Verified(r[0], r[1], r[2], None if r[3] is None else bool(r[3]), r[4], r[5], r[6], r[7], bool(r[8]))
            for r in rows
        ]

    def close(self) -> None:
        self.db.close()


def cells(attempts: Iterable[Attempt], verified: Iterable[Verified] = ()) -> dict[tuple[str, str], Cell]:
    """Every learner's record per exercise, from attempts and regrades in arrival order."""
    table: dict[tuple[str, str], Cell] = {}
    for a in attempts:
        cell = table.setdefault((a.learner, a.exercise), Cell(a.learner, a.exercise))
        cell.attempts += 1
        cell.last_attempt = a.received
        cell.last_passed = a.passed
        cell.last_message = a.message
        if a.passed and cell.first_passed is None:
            cell.first_passed = a.received
        if a.passed:
            cell.passed_with_solution |= a.solution_applied
            cell.passed_on_own |= not a.solution_applied
    for v in verified:
        table.setdefault((v.learner, v.exercise), Cell(v.learner, v.exercise)).verified = v
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
    message, sent_at, applied = data.get("message"), data.get("at"), data.get("solution_applied", False)
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
    if not isinstance(applied, bool):
        raise ValueError("'solution_applied' must be true or false")
    shown = message[:MAX_MESSAGE] if message else None
    return Attempt(learner, exercise, section, passed, shown, sent_at, received, applied)


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

    @property
    def regrader(self) -> Regrader | None:
        regrader: Regrader | None = self.settings["regrader"]
        return regrader

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
        with_results = {a.learner for a in self.store.attempts()} | {v.learner for v in self.store.verified()}
        learners += [{"name": name} for name in sorted(with_results - names)]
        return sorted(learners, key=lambda u: u["name"]), note

    def columns(self, attempts: list[Attempt], verified: list[Verified]) -> list[ExerciseInfo]:
        known = list(self.exercises)
        ids = {e.id for e in known}
        seen = [(a.exercise, a.section) for a in attempts] + [(v.exercise, v.section) for v in verified]
        for exercise, section in seen:  # results for exercises the course does not list (yet)
            if exercise not in ids:
                known.append(ExerciseInfo(exercise, section, exercise))
                ids.add(exercise)
        return known


class SummaryHandler(_InstructorHandler):
    """``GET api/summary``: everything the page shows, as JSON."""

    @web.authenticated
    async def get(self) -> None:
        attempts, verified = self.store.attempts(), self.store.verified()
        learners, note = await self.learners()
        table = cells(attempts, verified)
        self.finish(
            {
                "learners": [u["name"] for u in learners],
                "exercises": [asdict(e) for e in self.columns(attempts, verified)],
                "cells": [_cell_row(c) for c in sorted(table.values(), key=_cell_order)],
                "stuck": {ex: [_stuck_row(s) for s in entries] for ex, entries in stuck(attempts).items()},
                "regrade": self.regrader.status() if self.regrader else None,
                "note": note,
            }
        )


class CsvHandler(_InstructorHandler):
    """``GET gradebook.csv`` (one row per learner and exercise) and ``attempts.csv`` (every check)."""

    @web.authenticated
    async def get(self, which: str) -> None:
        attempts, verified = self.store.attempts(), self.store.verified()
        if which == "attempts":
            rows = [ATTEMPT_COLUMNS, *attempt_rows(attempts, verified)]
        else:
            learners, _ = await self.learners()
            table = cells(attempts, verified)
            rows = [SUMMARY_COLUMNS]
            for learner in learners:
                for ex in self.columns(attempts, verified):
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
    "self_reported",
    "solution_applied",
    "attempts",
    "first_passed_at",
    "last_attempt_at",
    "last_message",
    "verified",
    "verified_at",
    "verified_message",
    "verified_solution_code",
    "disagree",
]
ATTEMPT_COLUMNS = [
    "learner",
    "exercise",
    "section",
    "source",
    "passed",
    "solution_applied",
    "message",
    "sent_at",
    "received_at",
]


def _summary_csv(cell: Cell, exercise: ExerciseInfo) -> list[Any]:
    row = _cell_row(cell)
    first, last = row["first_passed_at"] or "", row["last_attempt_at"] or ""
    v = cell.verified
    return [
        cell.learner,
        exercise.id,
        exercise.section,
        cell.status or "not started",
        "yes" if cell.solution_applied else "",
        cell.attempts,
        first,
        last,
        cell.last_message or "",
        cell.verified_status,
        _iso(v.ran_at) if v else "",
        (v.message or "") if v else "",
        "yes" if v and v.solution_code else "",
        "yes" if cell.disagrees else "",
    ]


def attempt_rows(attempts: list[Attempt], verified: list[Verified]) -> list[list[Any]]:
    """Every check, self-reported by a learner's kernel or verified by a regrade, oldest first."""
    rows = [(a.received, _attempt_csv(a)) for a in attempts] + [(v.ran_at, _verified_csv(v)) for v in verified]
    return [row for _, row in sorted(rows, key=lambda item: item[0])]


def _attempt_csv(a: Attempt) -> list[Any]:
    applied, sent, received = a.solution_applied, a.sent_at or "", _iso(a.received)
    return [a.learner, a.exercise, a.section, "self-reported", a.passed, applied, a.message or "", sent, received]


def _verified_csv(v: Verified) -> list[Any]:
    passed = "" if v.passed is None else v.passed
    return [v.learner, v.exercise, v.section, "verified", passed, "", v.message or "", "", _iso(v.ran_at)]


def _stuck_row(s: Stuck) -> dict[str, Any]:
    return {"message": s.message, "stuck_now": s.stuck_now, "learners": len(s.learners), "attempts": s.attempts}


class PageHandler(_InstructorHandler):
    """``GET /``: the gradebook as a page."""

    @web.authenticated
    async def get(self) -> None:
        attempts, verified = self.store.attempts(), self.store.verified()
        learners, note = await self.learners()
        regrade = None
        if self.regrader is not None:
            regrade = RegradeForms(self.settings["prefix"], self.xsrf_token.decode(), self.regrader.status())
        exercises = self.columns(attempts, verified)
        self.finish(
            render_page(
                learners, exercises, attempts, note, self.settings["prefix"], verified=verified, regrade=regrade
            )
        )


# -- regrade: the checks run again, on the learners' workspaces, by a command outside this process ----


class Regrader:
    """Runs regrade jobs one after another with the configured command, storing what it prints."""

    def __init__(self, command: list[str], store: Store) -> None:
        self.command = command
        self.store = store
        self.queue: list[dict[str, Any]] = []
        self.running: dict[str, Any] | None = None
        self.finished: list[dict[str, Any]] = []
        self.process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)

    def start(self, learners: list[str], exercises: list[str]) -> dict[str, Any]:
        """Queue a job (no names: every learner, every exercise they started)."""
        job: dict[str, Any] = {
            "id": next(self._ids),
            "learners": learners,
            "exercises": exercises,
            "queued_at": time.time(),
            "results": 0,
            "passed": 0,
            "error": None,
        }
        self.queue.append(job)
        task = asyncio.ensure_future(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: dict[str, Any]) -> None:
        async with self._lock:
            self.queue.remove(job)
            self.running = job
            job["started_at"] = time.time()
            args = [*(f"--learner={n}" for n in job["learners"]), *(f"--exercise={e}" for e in job["exercises"])]
            # The command is ours, but nothing of this service's (its hub token) needs to reach it.
            env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
            try:
                self.process = process = await asyncio.create_subprocess_exec(
                    *self.command, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
                )
                assert process.stdout is not None
                assert process.stderr is not None
                errors = asyncio.ensure_future(process.stderr.read())
                async for raw in process.stdout:
                    self._store_line(job, raw)
                code = await process.wait()
                if code != 0:
                    tail = (await errors).decode(errors="replace").strip().splitlines()[-3:]
                    job["error"] = f"the regrade command exited with {code}: {' | '.join(tail)}"
            except (OSError, ValueError) as error:
                job["error"] = f"the regrade command did not run: {error}"
            job["finished_at"] = time.time()
            self.running = self.process = None
            self.finished.append(job)
            log.info("regrade %s: %s result(s), %s", job["id"], job["results"], job["error"] or "done")

    def _store_line(self, job: dict[str, Any], raw: bytes) -> None:
        try:
            result = Verified(**json.loads(raw))
        except (TypeError, ValueError):
            log.warning("regrade: not a result: %r", raw[:200])
            return
        self.store.add_verified(result)
        job["results"] += 1
        job["passed"] += bool(result.passed)

    def status(self) -> dict[str, Any]:
        return {"running": self.running, "queued": list(self.queue), "finished": self.finished[-5:]}

    def stop(self) -> None:
        """Ask a running regrade to stop its workers and end (SIGTERM), as the service stops."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()


class RegradeHandler(_InstructorHandler):
    """``POST regrade``: queue a regrade (a form from the page, or JSON); ``GET api/regrade``: its state."""

    @web.authenticated
    def get(self) -> None:
        if self.regrader is None:
            raise web.HTTPError(404, "Regrading is not set up on this hub (no $TOURLAB_GRADEBOOK_REGRADE).")
        self.finish(self.regrader.status())

    @web.authenticated
    async def post(self) -> None:
        if self.regrader is None:
            raise web.HTTPError(404, "Regrading is not set up on this hub (no $TOURLAB_GRADEBOOK_REGRADE).")
        as_json = self.request.headers.get("Content-Type", "").startswith("application/json")
        try:
            if as_json:
                data = json.loads(self.request.body or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("the body must be a JSON object")
                learners, exercises = _names(data.get("learners", [])), _names(data.get("exercises", []))
            else:
                learner, exercise = self.get_body_argument("learner", ""), self.get_body_argument("exercise", "")
                learners, exercises = _names([learner] if learner else []), _names([exercise] if exercise else [])
        except ValueError as error:
            raise web.HTTPError(400, f"{error}; send learners and exercises as lists of names") from error
        if not learners:  # the whole class (for one exercise or all): the learners this page lists
            learners = [u["name"] for u in (await self.learners())[0]]
        job = self.regrader.start(learners, exercises)
        if as_json:
            self.set_status(202)
            self.finish(job)
        else:
            self.redirect(self.settings["prefix"], status=303)


def _names(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and re.fullmatch(r"[\w-]{1,100}", v) for v in values):
        raise ValueError("names must be a list of learner or exercise ids")
    return list(values)


@dataclass(frozen=True)
class RegradeForms:
    """What the page needs to show regrade buttons: where they post, the xsrf token, the current state."""

    prefix: str
    xsrf: str
    status: dict[str, Any]

    def button(self, label: str, *, learner: str = "", exercise: str = "", title: str = "") -> str:
        esc = html.escape
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{esc(value, quote=True)}">'
            for name, value in (("learner", learner), ("exercise", exercise))
            if value
        )
        return (
            f'<form class="regrade" method="post" action="{esc(self.prefix)}regrade">'
            f'<input type="hidden" name="_xsrf" value="{esc(self.xsrf, quote=True)}">{hidden}'
            f'<button type="submit" title="{esc(title, quote=True)}">{esc(label)}</button></form>'
        )

    def state(self) -> str:
        running, queued, finished = self.status["running"], self.status["queued"], self.status["finished"]
        parts = []
        if running:
            parts.append(f"Regrade running: {running['results']} check(s) done so far.")
        if queued:
            parts.append(f"{len(queued)} more queued.")
        if finished and not running:
            last = finished[-1]
            took = last["finished_at"] - last["started_at"]
            parts.append(
                f"Last regrade: {last['results']} check(s), {last['passed']} passed, in {took:.0f} s"
                + (f"; {last['error']}" if last["error"] else "")
                + "."
            )
        return html.escape(" ".join(parts))


def render_page(
    learners: list[dict[str, Any]],
    exercises: list[ExerciseInfo],
    attempts: list[Attempt],
    note: str | None,
    prefix: str,
    *,
    verified: list[Verified] | None = None,
    regrade: RegradeForms | None = None,
) -> str:
    """The gradebook page: learners x exercises (self-reported and verified), then what the class is stuck on."""
    esc = html.escape
    table = cells(attempts, verified or [])

    def button(label: str, **names: str) -> str:
        return regrade.button(label, title="Run the checks again on the workspace", **names) if regrade else ""

    head = "".join(
        f'<th title="{esc(e.title)}">{esc(e.section)}<br>{esc(e.id)}{button("regrade", exercise=e.id)}</th>'
        for e in exercises
    )
    rows = []
    for learner in learners:
        name = learner["name"]
        passed = sum(1 for e in exercises if table.get((name, e.id), Cell(name, e.id)).status == "passed")
        checked = sum(1 for e in exercises if table.get((name, e.id), Cell(name, e.id)).verified_status == "passed")
        server = "running" if learner.get("servers", {}).get("", {}).get("ready") else ""
        tds = [_render_cell(table.get((name, e.id), Cell(name, e.id))) for e in exercises]
        rows.append(
            f'<tr><th class="learner">{esc(name)}<div class="meta">{server}</div>{button("regrade", learner=name)}</th>'
            f'{"".join(tds)}<td class="total">{passed}/{len(exercises)}'
            f'<div class="meta">verified {checked}</div></td></tr>'
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
    regrade_html = (
        f'<p id="regrade">{regrade.button("Regrade the whole class")} <span>{regrade.state()}</span></p>'
        if regrade
        else ""
    )
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
td.none {{ color: #bbb; }} td.disagree {{ outline: 3px solid #d97706; outline-offset: -3px; }}
.verified {{ font-size: 0.8rem; margin-top: 0.2rem; }} .v-passed {{ color: #1d6b1d; }}
.v-not-passed, .v-could-not-run {{ color: #a32020; }} .flag {{ color: #b45309; font-weight: 600; font-size: 0.75rem; }}
.meta {{ color: #666; font-size: 0.75rem; font-weight: normal; }}
form.regrade {{ display: inline; }} form.regrade button {{ font-size: 0.7rem; margin-top: 0.2rem; }}
code {{ white-space: pre-wrap; }} .note {{ color: #a15c00; }}
</style></head>
<body>
<h1>Gradebook</h1>
<p>{len(learners)} learner{"s" * (len(learners) != 1)} · {len(attempts)} check{"s" * (len(attempts) != 1)} run ·
updated {time.strftime("%H:%M:%S")} (every 30 s) ·
<a href="{prefix}gradebook.csv">gradebook.csv</a> · <a href="{prefix}attempts.csv">attempts.csv</a></p>
<p class="meta">Each cell: what the learner's own kernel reported (<i>self-reported</i>), then the latest
<i>verified</i> result, from a regrade that ran the check again on the learner's workspace files.
An orange frame marks a cell where the two disagree. <i>Solution applied</i>: the learner's kernel
reported passing after applying the reference solution; <i>the solution's code</i>: the regrade found
the reference solution's functions in the workspace, statement for statement.</p>
{regrade_html}
{note_html}
<table id="gradebook"><thead><tr><th>Learner</th>{head}
<th>Passed<br><span class="meta">self-reported</span></th></tr></thead>
<tbody>{"".join(rows)}{empty}</tbody></table>
<h2>What the class is stuck on</h2>
<div id="stuck">{stuck_html}</div>
</body></html>
"""


def _render_cell(cell: Cell) -> str:
    esc = html.escape
    if not cell.attempts and cell.verified is None:
        return '<td class="none">·</td>'
    parts = []
    classes = [cell.status.replace(" ", "-") or "none"]
    tip = cell.last_message or ("passed" if cell.attempts else "")
    if cell.attempts:
        when = time.strftime("%H:%M", time.localtime(cell.last_attempt or 0))
        mark = "✓ passed" if cell.status == "passed" else "✗ not yet"
        parts.append(
            f'{mark}<div class="meta">self-reported · {cell.attempts} attempt{"s" * (cell.attempts != 1)} · '
            f"last {when}</div>"
        )
        if cell.solution_applied:
            parts.append('<div class="flag">solution applied</div>')
    else:
        parts.append('<div class="meta">never checked by the learner</div>')
    v = cell.verified
    if v is not None:
        status = cell.verified_status
        symbol = {"passed": "✓", "not passed": "✗", "could not run": "⚠"}[status]
        when = time.strftime("%H:%M", time.localtime(v.ran_at))
        parts.append(f'<div class="verified v-{status.replace(" ", "-")}">{symbol} verified {status} · {when}</div>')
        if v.solution_code:
            parts.append('<div class="flag">the solution\'s code</div>')
        tip = f"{tip}\nverified: {v.message or status}".strip()
    if cell.disagrees:
        classes.append("disagree")
        parts.append('<div class="flag">self-reported ≠ verified</div>')
    return f'<td class="{" ".join(classes)}" title="{esc(tip, quote=True)}">{"".join(parts)}</td>'


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
    v = cell.verified
    return {
        "learner": cell.learner,
        "exercise": cell.exercise,
        "status": cell.status,
        "attempts": cell.attempts,
        "solution_applied": cell.solution_applied,
        "first_passed_at": _iso(cell.first_passed),
        "last_attempt_at": _iso(cell.last_attempt),
        "last_message": cell.last_message,
        "verified": None
        if v is None
        else {
            "status": cell.verified_status,
            "message": v.message,
            "at": _iso(v.ran_at),
            "runner": v.runner,
            "solution_code": v.solution_code,
        },
        "disagree": cell.disagrees,
    }


def _cell_order(cell: Cell) -> tuple[str, str]:
    return (cell.learner, cell.exercise)


def make_app(
    store: Store, prefix: str, exercises: list[ExerciseInfo], regrade_command: list[str] | None = None
) -> web.Application:
    """The tornado application, routed under the service prefix (``/services/gradebook/``)."""
    prefix = "/" + prefix.strip("/") + "/"
    return web.Application(
        [
            (prefix, PageHandler),
            (prefix + "api/results", ResultsHandler),
            (prefix + "api/summary", SummaryHandler),
            (prefix + "(?:api/)?regrade", RegradeHandler),
            (prefix + r"(gradebook|attempts)\.csv", CsvHandler),
            (prefix + "oauth_callback", HubOAuthCallbackHandler),
            (prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}),
        ],
        store=store,
        exercises=exercises,
        prefix=prefix,
        regrader=Regrader(regrade_command, store) if regrade_command else None,
        cookie_secret=os.urandom(32),
    )


def main() -> None:
    """Serve the gradebook where the hub says (``$JUPYTERHUB_SERVICE_URL``)."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s gradebook] %(message)s")
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    store = Store(Path(os.environ.get(DB_ENV, "gradebook.sqlite")))
    command = json.loads(os.environ[REGRADE_ENV]) if os.environ.get(REGRADE_ENV) else None
    app = make_app(store, prefix, load_exercises(), command)
    regrader: Regrader | None = app.settings["regrader"]
    app.listen(url.port or 80, os.environ.get(BIND_ENV) or url.hostname or "127.0.0.1")
    log.info("Serving %s on %s (results in %s)", prefix, url.netloc, store.path)
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:  # the hub stops its services with SIGINT
        log.info("Stopped")
    finally:
        if regrader is not None:
            regrader.stop()
        store.close()


if __name__ == "__main__":
    main()
