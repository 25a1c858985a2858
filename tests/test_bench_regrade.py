"""bench/regrade.py regrades a class of one (chapters 01-05 solved) and prints its stable lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tourlab import _config

pytestmark = pytest.mark.hub

BENCH = _config.PROJECT_ROOT / "bench" / "regrade.py"
SIZE_LINE = re.compile(
    r"^regrade N=1 spawner=local jobs=1 passed=7/7 total_s=(?P<total>[\d.]+) per_learner_s_p50=(?P<one>[\d.]+) "
    r"per_learner_s_max=[\d.]+ check_s_p50=(?P<check>[\d.]+)$"
)
RESULT_LINE = re.compile(r"^regrade RESULT learners=1 checks=7 passed=7 total_s=[\d.]+ total_per_learner_s=[\d.]+$")


def test_one_solved_learner_regrades_as_passed(tmp_path: Path) -> None:
    out = tmp_path / "regrade.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--learners", "1", "--spawner", "local", "--jobs", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    size, result = SIZE_LINE.match(lines[-2]), RESULT_LINE.match(lines[-1])
    assert size, lines[-2]
    assert result, lines[-1]
    assert float(size["check"]) <= float(size["one"]) <= float(size["total"])
    results = json.loads(out.read_text())["results"]
    assert sorted(r["exercise"] for r in results) == sorted(
        ["checkout_calls_handle", "expire_ticket", "reserve", "unreserve", "mark_as_sold", "email_notifications",
         "checkout_marks_sold"]
    )  # fmt: skip
    assert all(r["passed"] is True and r["runner"] == "local" for r in results)
