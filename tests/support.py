"""Small helpers shared by the tests."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tourlab import PROJECT_ROOT, Lab, poll
from tourlab._config import restate_version
from tourlab.course import EXERCISES, Section, Workspace, find_section

T = TypeVar("T")

FIXTURES = Path(__file__).with_name("fixtures")


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; returns that value (or the last falsy one)."""
    return poll(check, timeout=timeout, interval=interval).value


def invocation_of(lab: Lab, target: str, timeout: float = 10.0) -> str:
    """The id of the newest invocation of `target` (e.g. ``CartObject/Mary/expireTicket``), once it exists."""

    def newest() -> str | None:
        found = lab.invocations(target=target, limit=1)
        return found[0].id if found else None

    invocation_id = eventually(newest, timeout)
    assert invocation_id, f"no invocation of {target} appeared"
    return invocation_id


def exercise_section(lab: Lab, exercise_id: str, start_from: str, name: str = "") -> Section:
    """The exercise's section on a new workspace ``t_<exercise>[_<name>]`` copied from `start_from`, loaded."""
    workspace = Workspace("_".join(filter(None, ["t", exercise_id, name])), start_from=start_from)
    workspace.ensure()
    section = Section(find_section(EXERCISES[exercise_id].section), lab, workspace)
    section.load_workspace()
    return section


#: Rows recorded from a real restate-server, one JSON file per case (see restate_rows/record.py).
ROWS = FIXTURES / "restate_rows"


def recorded(name: str) -> dict[str, Any]:
    """A case of recorded rows: ``case``, the versions, and per table its ``query`` and ``rows``."""
    data: dict[str, Any] = json.loads((ROWS / f"{name}.json").read_text())
    return data


def save_rows(
    query: Callable[[str], list[dict[str, Any]]], name: str, case: str, invocation_id: str, **more: str
) -> None:
    """Record what `query` (a real Restate's ``/query``) returns about one invocation, as ``ROWS/<name>.json``.

    `more` adds tables: name -> SQL. Unit tests replay the file through ``RecordedRestate``.
    """
    tables = {
        "sys_invocation": f"SELECT * FROM sys_invocation WHERE id = '{invocation_id}'",
        "sys_journal": f"SELECT * FROM sys_journal WHERE id = '{invocation_id}' ORDER BY index",
        **more,
    }
    document: dict[str, Any] = {
        "case": case,
        "restate_server": restate_version(),
        "restate_sdk": version("restate-sdk"),
        "invocation_id": invocation_id,
    }
    document.update({table: {"query": sql, "rows": query(sql)} for table, sql in tables.items()})
    ROWS.mkdir(parents=True, exist_ok=True)
    (ROWS / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")


class RecordedRestate:
    """Answers the admin and ingress requests the lab makes from rows recorded on a real server.

    For fast unit tests (``httpx.MockTransport(RecordedRestate(...))``); the end-to-end tests
    use a real restate-server. Every request is kept in ``requests``.
    """

    def __init__(
        self,
        *,
        invocations: list[dict[str, Any]] = (),  # type: ignore[assignment]
        journals: dict[str, list[dict[str, Any]]] | None = None,
        state: list[dict[str, Any]] = (),  # type: ignore[assignment]
        outputs: dict[str, Any] | None = None,
    ) -> None:
        self.invocations = list(invocations)
        self.journals = journals or {}
        self.state = list(state)
        self.outputs = outputs or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/query":
            return httpx.Response(200, json={"rows": self.rows(json.loads(request.content)["query"])})
        found = re.fullmatch(r"/restate/invocation/([^/]+)/(output|attach)", path)
        if found and found.group(1) in self.outputs:
            return httpx.Response(200, json=self.outputs[found.group(1)])
        if found:
            return httpx.Response(470, json={"message": "not ready"})
        return httpx.Response(404, json={"message": f"no recording for {path}"})

    def queries(self) -> list[str]:
        return [json.loads(r.content)["query"] for r in self.requests if r.url.path == "/query"]

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The recorded rows that answer `sql`; the SELECTs of a UNION ALL are answered one by one."""
        return [row for part in sql.split(" UNION ALL ") for row in self._rows(part)]

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        one = re.search(r"FROM sys_invocation WHERE id = '([^']+)'", sql)
        if one:
            return [row for row in self.invocations if row["id"] == one.group(1)]
        if "FROM sys_invocation_status WHERE status <> 'completed'" in sql:  # the timers' unfinished ones
            return [_base_table(row) for row in self.invocations if row["status"] != "completed"]
        if "FROM sys_invocation_status " in sql:  # the recent ones, from the base table
            newest = sorted(self.invocations, key=lambda row: row.get("created_at", ""), reverse=True)
            return [_base_table(row) for row in newest]
        journal = re.search(r"FROM sys_journal WHERE id = '([^']+)'(?: AND \((.*)\))?$", sql)
        if journal:
            entries = [{**entry, "id": journal.group(1)} for entry in self.journals.get(journal.group(1), [])]
            return [entry for entry in entries if _journal_row_selected(entry, journal.group(2))]
        if "FROM state" in sql:
            services = set(re.findall(r"service_name = '([^']+)'", sql))
            keys = set(re.findall(r"service_key = '([^']+)'", sql))
            return [
                row
                for row in self.state
                if row["service_name"] in services and (not keys or row["service_key"] in keys)
            ]
        raise AssertionError(f"no recording answers {sql!r}")


def _base_table(row: dict[str, Any]) -> dict[str, Any]:
    """A recorded ``sys_invocation`` row as ``sys_invocation_status`` has it: without the in-flight columns."""
    base = {k: v for k, v in row.items() if k not in ("retry_count", "last_failure")}
    return {**base, "status": "running" if row["status"] == "backing-off" else row["status"]}


def _journal_row_selected(entry: dict[str, Any], condition: str | None) -> bool:
    """Whether the journal query's condition (None: all rows) selects this recorded entry."""
    if condition is None:
        return True
    if condition == "index = 0":
        return int(entry["index"]) == 0
    if "Command: Sleep" in condition:
        return entry["entry_type"] == "Command: Sleep" or entry["entry_type"].startswith("Notification")
    raise AssertionError(f"no recording answers the journal condition {condition!r}")


# -- Docker ------------------------------------------------------------------------------------------


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``docker ARGS`` with its output captured (failures are returned, not raised)."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def docker_engine_answers() -> bool:
    """Whether the ``docker`` command line reaches an engine."""
    return shutil.which("docker") is not None and docker("info", timeout=30).returncode == 0


needs_docker_engine = pytest.mark.skipif(
    not docker_engine_answers(),
    reason="no Docker engine answers here (`docker info` failed); `./course test` starts one as root on Debian",
)


@dataclass
class BuiltImages:
    """What images/build_images.py printed and wrote into its env file."""

    log: str
    settings: dict[str, str]


def build_images(env_file: Path) -> BuiltImages:
    """Run images/build_images.py: pull the pinned images or build the local stand-ins."""
    built = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "images" / "build_images.py"), "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    lines = env_file.read_text().splitlines()
    return BuiltImages(built.stdout, dict(line.split("=", 1) for line in lines if line and not line.startswith("#")))
