"""Benchmark: a kernel's cold start, embedded restate-server against Docker, in one run.

Cold start = a fresh Python process until its first ``addTicket`` returns True: imports,
``Lab.start()`` (Restate, the endpoint, the trace receiver, registration) and one call. The two
runtimes alternate, so both see the same machine load. In docker mode the time is split into
what the runtime reports: choosing the image, and creating plus starting the container.

Run: ``.venv/bin/python bench/docker_cold_start.py [--runs 5]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from tourlab._config import PROJECT_ROOT

COLD_START = textwrap.dedent(
    """
    import time
    began = time.perf_counter()
    import json, logging
    marks = {}

    class Marks(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if message.startswith("Restate in Docker:"):
                marks["image chosen"] = time.perf_counter() - began
            elif message.startswith("Container started"):
                marks["container started"] = time.perf_counter() - began

    for name in ("tourlab._runtimes.docker", "testcontainers.core.container"):
        logging.getLogger(name).addHandler(Marks())
        logging.getLogger(name).setLevel(logging.INFO)
    from tourlab import Lab
    marks["imported"] = time.perf_counter() - began
    lab = Lab.start("tour/part1")
    marks["lab started"] = time.perf_counter() - began
    assert lab.call("CartObject", "Mary", "addTicket", "seat2B") is True
    marks["first addTicket"] = time.perf_counter() - began
    image = getattr(lab.runtime, "image", None)
    lab.stop()
    print(json.dumps({"marks": marks, "image": image.image if image else lab.runtime_kind}))
    """
)

COLUMNS = ("imported", "image chosen", "container started", "lab started", "first addTicket")


def cold_start(runtime: str, home: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTATE_", "TOURLAB_"))}
    env |= {"TOURLAB_RUNTIME": runtime, "TOURLAB_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", COLD_START],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{runtime} cold start failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(runs: int) -> dict[str, list[dict[str, object]]]:
    """`runs` cold starts of each runtime, alternating; the first of each (warm-up) is dropped."""
    samples: dict[str, list[dict[str, object]]] = {"embedded": [], "docker": []}
    with tempfile.TemporaryDirectory(prefix="tourlab-cold-") as home:
        for run in range(runs + 1):
            for runtime, kept in samples.items():
                sample = cold_start(runtime, Path(home))
                if run:
                    kept.append(sample)
    return samples


def table(samples: dict[str, list[dict[str, object]]]) -> str:
    lines = [
        "| runtime | image | "
        + " | ".join(f"{column} (median)" for column in COLUMNS)
        + " | first addTicket (min-max) |",
        "|---" * (len(COLUMNS) + 3) + "|",
    ]
    for runtime, found in samples.items():
        marks = [sample["marks"] for sample in found]
        cells = []
        for column in COLUMNS:
            values = [float(mark[column]) for mark in marks if isinstance(mark, dict) and column in mark]
            cells.append(f"{statistics.median(values):.2f} s" if values else "-")
        totals = [float(mark["first addTicket"]) for mark in marks if isinstance(mark, dict)]
        image = found[0]["image"] if found else "?"
        lines.append(f"| {runtime} | {image} | " + " | ".join(cells) + f" | {min(totals):.2f}-{max(totals):.2f} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts per runtime, after one warm-up each")
    options = parser.parse_args()
    samples = measure(options.runs)
    print(f"Cold start: fresh process -> first addTicket True ({options.runs} runs each, medians)\n")
    print(table(samples))


if __name__ == "__main__":
    main()
