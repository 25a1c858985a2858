"""How much memory the course needs: peak RSS of each notebook's kernel plus its restate-server.

Runs every notebook in notebooks/ (or the ones given) with nbclient, one kernel at a time,
while a thread samples the resident memory of every process this script started, children
included (the kernel, the restate-server it spawns, any `restate` CLI call). Cells tagged
``nbval-skip`` are skipped, as in the test suite. Also measures an idle JupyterLab server, the
other resident part of a learner's session, and prints a table plus the per-learner figure.

    .venv/bin/python bench/course_memory.py                 # every notebook, one kernel at a time
    .venv/bin/python bench/course_memory.py --all-open      # plus: every kernel left running
    .venv/bin/python bench/course_memory.py notebooks/01_*.ipynb --json artifacts/memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tourlab import poll

ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20


@dataclass
class Peak:
    """Peak RSS (MiB) over a run: of the sum, and of each kind of process on its own."""

    total: float = 0.0
    kernel: float = 0.0
    restate: float = 0.0
    other: float = 0.0
    processes: int = 0


@dataclass
class Row:
    notebook: str
    cells: int
    status: str
    seconds: float
    peak: Peak = field(default_factory=Peak)


def _kind(process: psutil.Process) -> str:
    try:
        name = process.name()
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return "other"
    if "restate-server" in name or "restate-server" in cmdline:
        return "restate"
    if "ipykernel" in cmdline:
        return "kernel"
    return "other"


class Sampler:
    """Samples the RSS of every descendant of this process (optionally minus `exclude`) until stopped."""

    def __init__(self, interval: float = 0.05, exclude: set[int] | None = None) -> None:
        self.interval = interval
        self.exclude = exclude or set()
        self.peak = Peak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._me = psutil.Process()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        sums = {"kernel": 0, "restate": 0, "other": 0}
        count = 0
        for process in self._me.children(recursive=True):
            if process.pid in self.exclude:
                continue
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue
            sums[_kind(process)] += rss
            count += 1
        total = sum(sums.values()) / MIB
        peak = self.peak
        peak.total = max(peak.total, total)
        peak.kernel = max(peak.kernel, sums["kernel"] / MIB)
        peak.restate = max(peak.restate, sums["restate"] / MIB)
        peak.other = max(peak.other, sums["other"] / MIB)
        peak.processes = max(peak.processes, count)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)
        self.sample()


def _without_skipped_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code" and "nbval-skip" in cell.get("metadata", {}).get("tags", []):
            cell.source = ""
    return nb


def _descendants() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def _wait_for_descendants_to_exit(timeout: float = 20.0, keep: set[int] | None = None) -> None:
    keep = keep or set()
    poll(lambda: not [p for p in _descendants() if p.pid not in keep], timeout=timeout, interval=0.1)


def run_notebook(
    path: Path, *, interval: float, timeout: int, keep_kernel: bool, exclude: set[int]
) -> tuple[Row, NotebookClient]:
    nb = _without_skipped_cells(nbformat.read(path, as_version=4))
    cells = sum(1 for cell in nb.cells if cell.cell_type == "code")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    status = "ok"
    began = time.perf_counter()
    with Sampler(interval, exclude=exclude) as sampler:
        try:
            client.execute(cleanup_kc=not keep_kernel)
        except CellExecutionError as error:
            first_line = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            status = f"error: {first_line[:60]}"
        except Exception as error:  # noqa: BLE001 - report and go on with the next notebook
            status = f"error: {type(error).__name__}: {str(error)[:60]}"
    return Row(path.name, cells, status, time.perf_counter() - began, sampler.peak), client


def measure_jupyter_server(interval: float, settle: float = 4.0) -> float:
    """Peak RSS (MiB) of an idle JupyterLab server, started and stopped here."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as home:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                f"--port={port}",
                "--ServerApp.token=bench",
                f"--ServerApp.root_dir={ROOT}",
                "--allow-root",
            ],
            env={**os.environ, "JUPYTER_RUNTIME_DIR": home},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def listening() -> bool:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                except OSError:
                    return False
                return True

            poll(listening, timeout=60, interval=0.2)
            # Load the lab page once, as a browser would, so the server has done its real work.
            import httpx

            httpx.get(f"http://127.0.0.1:{port}/lab?token=bench", timeout=30)
            peak = 0.0
            process = psutil.Process(server.pid)
            end = time.monotonic() + settle
            while time.monotonic() < end:
                peak = max(peak, process.memory_info().rss / MIB)
                time.sleep(interval)
            return peak
        finally:
            server.terminate()
            server.wait(20)


def print_table(rows: list[Row], title: str) -> None:
    print(f"\n{title}")
    header = (
        f"{'notebook':<42} {'cells':>5}  {'kernel':>7} {'restate':>8} {'other':>6} {'peak sum':>9}  {'s':>6}  status"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        p = row.peak
        print(
            f"{row.notebook:<42} {row.cells:>5}  {p.kernel:>7.0f} {p.restate:>8.0f} {p.other:>6.0f} "
            f"{p.total:>9.0f}  {row.seconds:>6.1f}  {row.status}"
        )
    print("(MiB of resident memory: peak of each kind of process, and peak of their sum)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--interval", type=float, default=0.05, help="sampling interval in seconds")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    parser.add_argument("--all-open", action="store_true", help="also run with every kernel left running")
    parser.add_argument("--no-server", action="store_true", help="skip measuring the JupyterLab server")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        print("No notebooks found in notebooks/.", file=sys.stderr)
        return 1
    os.environ.pop("RESTATE_ADMIN_URL", None)  # always measure the embedded server
    os.environ.setdefault("TOURLAB_RUNTIME", "embedded")
    # Like the notebook tests: a scratch workspace, progress file and server home, never the learner's.
    scratch = Path(tempfile.mkdtemp(prefix="tourlab-bench-"))
    os.environ.update(
        TOURLAB_WORKSPACE=str(scratch / "workspace"),
        TOURLAB_PROGRESS=str(scratch / "progress.json"),
        TOURLAB_HOME=str(scratch / "home"),
    )
    os.environ.pop("TOUR_RESERVATION_SECONDS", None)
    try:
        return _measure(args, notebooks)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _measure(args: argparse.Namespace, notebooks: list[Path]) -> int:

    rows = []
    for path in notebooks:
        row, _ = run_notebook(
            path.resolve(), interval=args.interval, timeout=args.timeout, keep_kernel=False, exclude=set()
        )
        rows.append(row)
        _wait_for_descendants_to_exit()
    print_table(rows, "One kernel at a time (how the course is meant to be run)")
    one_at_a_time = max(row.peak.total for row in rows)

    all_open = None
    if args.all_open:
        clients = []
        open_rows = []
        with Sampler(args.interval) as overall:
            for path in notebooks:
                row, client = run_notebook(
                    path.resolve(), interval=args.interval, timeout=args.timeout, keep_kernel=True, exclude=set()
                )
                open_rows.append(row)
                clients.append(client)
        print_table(open_rows, "Every kernel left running (a learner who never shuts a notebook down)")
        all_open = overall.peak.total
        for client in clients:
            client._cleanup_kernel()  # nbclient's own shutdown path
        _wait_for_descendants_to_exit()

    server = None if args.no_server else measure_jupyter_server(args.interval)
    print()
    figures = [("Peak, one notebook at a time (kernel + restate-server)", one_at_a_time)]
    if all_open is not None:
        figures.append((f"Peak, all {len(notebooks)} kernels left running", all_open))
    if server is not None:
        figures.append(("Idle JupyterLab server", server))
        figures.append(("Per learner (server + one notebook at a time)", server + one_at_a_time))
    for label, mib in figures:
        print(f"{label + ':':<58} {mib:>6.0f} MiB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "rows": [asdict(row) for row in rows],
                    "one_at_a_time_mib": one_at_a_time,
                    "all_open_mib": all_open,
                    "jupyter_server_mib": server,
                },
                indent=2,
            )
        )
    return 0 if all(row.status == "ok" for row in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
