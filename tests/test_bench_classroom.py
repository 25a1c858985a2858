"""bench/classroom.py runs a real class of one through a real hub and prints its stable lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tourlab import _config

pytestmark = pytest.mark.hub

BENCH = _config.PROJECT_ROOT / "bench" / "classroom.py"
SIZE_LINE = re.compile(
    r"^classroom N=1 ok=1/1 spawn_s_p50=(?P<spawn>[\d.]+) spawn_s_max=[\d.]+ rss_mib_p50=(?P<rss>\d+) "
    r"rss_mib_max=\d+ addticket_ms_p50=(?P<p50>[\d.]+) addticket_ms_p95=(?P<p95>[\d.]+)$"
)
RESULT_LINE = re.compile(
    r"^classroom RESULT max_ok=1 tried=1 rss_mib_per_learner=(?P<rss>\d+) spawn_s_p50=[\d.]+ "
    r"addticket_ms_p95=[\d.]+ hub_rss_mib=(?P<hub>\d+)$"
)


def test_one_learner_through_the_hub(tmp_path: Path) -> None:
    out = tmp_path / "classroom.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "1", "--calls", "3", "--json", str(out)],
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
    # A learner is at least a JupyterLab server, a kernel and a restate-server.
    assert int(size["rss"]) > 200
    assert float(size["p50"]) <= float(size["p95"])
    assert int(result["hub"]) > 50
    [round_] = json.loads(out.read_text())
    [learner] = round_["learners"]
    assert learner["check_ok"] is True
    assert len(learner["addticket_ms"]) == 3
