"""Benchmark: the lab against the tour's manual loop, side by side in one run.

Manual loop (what the tour asks a learner to do): start restate-server, run
``python -m hypercorn -b localhost:P tour/part1/app:app``, register the endpoint, call
addTicket; after an edit, restart Hypercorn, re-register (force) and call again.

Run: ``.venv/bin/python bench/lab_vs_manual.py [--runs 5] [--calls 300]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import psutil

from tourlab import PROJECT_ROOT, poll
from tourlab._ports import free_port
from tourlab._runtimes import EmbeddedRestate

_LAB_COLD_START = textwrap.dedent(
    """
    import time
    began = time.perf_counter()
    from tourlab import Lab
    lab = Lab.start("tour/part1")
    assert lab.call("CartObject", "Mary", "addTicket", "seat2B") is True
    print(time.perf_counter() - began)
    """
)


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _wait_registered(http: httpx.Client, admin_url: str, uri: str) -> None:
    def registered() -> bool:
        try:
            return http.post(f"{admin_url}/deployments", json={"uri": uri, "force": True}).is_success
        except httpx.HTTPError:
            return False

    poll(registered, timeout=30, interval=0.005)


def _start_hypercorn(app_spec: str, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hypercorn", "-b", f"localhost:{port}", app_spec],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _scratch_copy() -> tuple[Path, Path]:
    """A copy of tour/part1 as package ``bench_app`` inside a temp root; returns (root, package)."""
    root = Path(tempfile.mkdtemp(prefix="tourlab-bench-"))
    package = root / "bench_app"
    shutil.copytree(PROJECT_ROOT / "tour" / "part1", package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tour").symlink_to(PROJECT_ROOT / "tour")
    for module in package.glob("*.py"):
        module.write_text(module.read_text().replace("tour.part1.", "bench_app."))
    return root, package


def _flip_reserve(package: Path, answer: bool) -> None:
    module = package / "ticket_object.py"
    source = module.read_text()
    module.write_text(source.replace(f"    return {not answer}\n", f"    return {answer}\n"))


def manual_loop(runs: int) -> dict[str, list[float]]:
    """Cold start and edit→new-answer through the tour's manual steps."""
    cold, edit = [], []
    root, package = _scratch_copy()
    with httpx.Client(timeout=30) as http:
        for _ in range(runs):
            began = time.perf_counter()
            server = EmbeddedRestate()
            server.start()
            port = free_port()
            hypercorn = _start_hypercorn("bench_app/app:app", port, root)
            uri = f"http://localhost:{port}"
            _wait_registered(http, server.admin_url, uri)
            answer = http.post(f"{server.ingress_url}/CartObject/Mary/addTicket", json="seat2B").json()
            cold.append(time.perf_counter() - began)
            assert answer is True
            for expected in (False, True):
                began = time.perf_counter()
                _flip_reserve(package, expected)
                hypercorn.terminate()
                hypercorn.wait()
                hypercorn = _start_hypercorn("bench_app/app:app", port, root)
                _wait_registered(http, server.admin_url, uri)
                answer = http.post(f"{server.ingress_url}/CartObject/Mary/addTicket", json="seat2B").json()
                edit.append(time.perf_counter() - began)
                assert answer is expected
            hypercorn.terminate()
            hypercorn.wait()
            server.stop()
    shutil.rmtree(root)
    return {"cold": cold, "edit": edit}


def lab_cold_starts(runs: int) -> list[float]:
    """Fresh Python process each time: import, Lab.start, first addTicket."""
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _LAB_COLD_START], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return samples


def lab_in_process(runs: int, calls: int) -> dict[str, list[float] | float]:
    """Reload latency, call latency through the lab vs raw httpx, and memory."""
    from tourlab import Lab

    root, package = _scratch_copy()
    sys.path.insert(0, str(root))
    lab = Lab.start(package)
    edit = []
    for _ in range(runs):
        for expected in (False, True):
            began = time.perf_counter()
            _flip_reserve(package, expected)
            lab.reload()
            answer = lab.call("CartObject", "Mary", "addTicket", "seat2B")
            edit.append(time.perf_counter() - began)
            assert answer is expected

    via_lab, via_httpx = [], []
    url = f"{lab.ingress_url}/CartObject/Mary/addTicket"
    with httpx.Client(timeout=30) as raw:
        for index in range(calls):
            began = time.perf_counter()
            lab.call("CartObject", f"user{index}", "addTicket", "seat2B")
            via_lab.append(time.perf_counter() - began)
            began = time.perf_counter()
            raw.post(url.replace("/Mary/", f"/raw{index}/"), json="seat2B").json()
            via_httpx.append(time.perf_counter() - began)

    kernel = psutil.Process()
    server = psutil.Process(lab.runtime.pid)
    rss = {"kernel": kernel.memory_info().rss, "server": server.memory_info().rss}
    lab.stop()
    shutil.rmtree(root)
    return {"edit": edit, "lab_calls": via_lab, "httpx_calls": via_httpx, **rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = parser.parse_args()

    manual = manual_loop(args.runs)
    lab_cold = lab_cold_starts(args.runs)
    lab = lab_in_process(args.runs, args.calls)

    ms = lambda seconds: f"{seconds * 1000:.0f} ms"  # noqa: E731
    lab_p50 = statistics.median(lab["lab_calls"])
    raw_p50 = statistics.median(lab["httpx_calls"])
    mib = (lab["kernel"] + lab["server"]) / 2**20
    rows = [
        (
            "cold start → first addTicket true",
            ms(statistics.median(manual["cold"])),
            ms(statistics.median(lab_cold)),
            "≤ 400 ms",
        ),
        (
            "edit → new code answers",
            ms(statistics.median(manual["edit"])),
            ms(statistics.median(lab["edit"])),
            "≤ 50 ms",
        ),
        (
            "addTicket p50 (lab.call vs raw httpx)",
            f"{raw_p50 * 1000:.1f} ms",
            f"{lab_p50 * 1000:.1f} ms ({(lab_p50 / raw_p50 - 1) * 100:+.0f} %)",
            "≤ +10 %",
        ),
        (
            "addTicket p95 (lab.call vs raw httpx)",
            f"{_percentile(lab['httpx_calls'], 0.95) * 1000:.1f} ms",
            f"{_percentile(lab['lab_calls'], 0.95) * 1000:.1f} ms",
            "",
        ),
        (
            "RSS server + kernel",
            "",
            f"{mib:.0f} MiB (server {lab['server'] / 2**20:.0f}, kernel {lab['kernel'] / 2**20:.0f})",
            "≤ 500 MiB",
        ),
    ]
    print(f"{args.runs} runs, {args.calls} calls, medians unless noted\n")
    print("| measure | tour's manual loop | lab | target |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        print(json.dumps({"manual": manual, "lab_cold": lab_cold, "lab": lab}, indent=1))


if __name__ == "__main__":
    main()
