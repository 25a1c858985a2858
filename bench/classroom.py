"""How many learners one machine's classroom hub carries: N simulated learners, growing N.

Starts a real hub (``./course hub --spawner local`` in a scratch class folder). For each class
size N it creates N users through the hub's REST API and starts their servers at once, then
every learner, in parallel, runs ``notebooks/00_getting_started.ipynb`` through their server's
kernel API, calls ``addTicket`` a number of times (timed inside the kernel, all learners at
once), and passes section 01's ``checkout_calls_handle`` check after applying its solution.
A sampler records each learner's peak resident memory: their server plus its kernels plus the
kernels' restate-servers. The servers are stopped before the next size.

    .venv/bin/python bench/classroom.py                      # N = 1, 2, 3
    .venv/bin/python bench/classroom.py --sizes 5,10,20,30   # the big run, on a quiet machine
    .venv/bin/python bench/classroom.py --json artifacts/bench/classroom.json

It stops at the first size where a learner fails. The last lines are stable, one per size and
one summary::

    classroom N=<n> ok=<k>/<n> spawn_s_p50= spawn_s_max= rss_mib_p50= rss_mib_max= addticket_ms_p50= addticket_ms_p95=
    classroom RESULT max_ok= tried= rss_mib_per_learner= spawn_s_p50= addticket_ms_p95= hub_rss_mib=
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from tourlab.hub.launch import HubProcess
from tourlab.hub.remote import HubClient

ROOT = Path(__file__).resolve().parent.parent
MIB = 2**20
NOTEBOOK = "notebooks/00_getting_started.ipynb"
TIMED_CALLS = """
import json, time
samples = []
for i in range({calls}):
    started = time.perf_counter()
    lab.call("CartObject", "bench", "addTicket", f"seat{{i}}")
    samples.append((time.perf_counter() - started) * 1000)
print(json.dumps(samples))
"""
CHECK = """
import json
from tourlab.course import open_section
section = open_section("01_invoking_handlers", show=False)
section.apply_solution("checkout_calls_handle")
print(json.dumps(section.check("checkout_calls_handle").ok))
"""


@dataclass
class Learner:
    name: str
    spawn_s: float = 0.0
    notebook_s: float = 0.0
    addticket_ms: list[float] = field(default_factory=list)
    check_ok: bool = False
    peak_rss_mib: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.check_ok


@dataclass
class Round:
    size: int
    learners: list[Learner]
    hub_rss_mib: float = 0.0

    @property
    def ok(self) -> int:
        return sum(1 for learner in self.learners if learner.ok)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def tree_rss(process: psutil.Process) -> float:
    """Resident memory (MiB) of a process and all its descendants."""
    total = 0
    try:
        for p in [process, *process.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
    except psutil.Error:
        return 0.0
    return total / MIB


class Sampler(threading.Thread):
    """Every half second: each learner's server tree (by $JUPYTERHUB_USER) and the hub's own processes."""

    def __init__(self, hub: HubProcess) -> None:
        super().__init__(daemon=True)
        self.hub = hub
        self.peaks: dict[str, float] = {}
        self.hub_peak = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            if self.hub.process is None:
                continue
            try:
                root = psutil.Process(self.hub.process.pid)
                children = root.children()
            except psutil.Error:
                continue
            own = root.memory_info().rss / MIB
            for child in children:
                user = _user_of(child)
                if user is None:  # the proxy and the hub's services
                    own += tree_rss(child)
                else:
                    self.peaks[user] = max(self.peaks.get(user, 0.0), tree_rss(child))
            self.hub_peak = max(self.hub_peak, own)


def _user_of(process: psutil.Process) -> str | None:
    try:
        if "jupyterhub-singleuser" not in " ".join(process.cmdline()):
            return None
        user: str | None = process.environ().get("JUPYTERHUB_USER")
        return user
    except psutil.Error:
        return None


def run_learner(hub: HubProcess, learner: Learner, barrier: threading.Barrier, calls: int) -> None:
    api = HubClient(hub.url, hub.token)
    try:
        started = time.monotonic()
        with api.notebook(learner.name, NOTEBOOK) as kernel:
            kernel.run_notebook(ROOT / NOTEBOOK)
            learner.notebook_s = time.monotonic() - started
            barrier.wait(timeout=600)  # everyone calls addTicket at the same time
            learner.addticket_ms = kernel.execute(TIMED_CALLS.format(calls=calls)).printed_json()
        with api.notebook(learner.name, "notebooks/01_invoking_handlers.ipynb") as kernel:
            learner.check_ok = kernel.execute(CHECK).printed_json() is True
    except Exception as error:  # noqa: BLE001 - a failing learner is a result, not a crash
        learner.error = f"{type(error).__name__}: {error}"
        traceback.print_exc()
        barrier.abort()
    finally:
        api.close()


def run_round(hub: HubProcess, size: int, calls: int, sampler: Sampler) -> Round:
    names = [f"n{size}-learner{i}" for i in range(size)]
    learners = [Learner(name) for name in names]
    admin = hub.client()
    for name in names:
        admin.create_user(name)

    def spawn(learner: Learner) -> None:
        api = HubClient(hub.url, hub.token)
        try:
            learner.spawn_s = api.start_server(learner.name, timeout=600)
        except Exception as error:  # noqa: BLE001
            learner.error = f"spawn: {error}"
        finally:
            api.close()

    with ThreadPoolExecutor(max_workers=size) as pool:
        list(pool.map(spawn, learners))
    barrier = threading.Barrier(sum(1 for learner in learners if learner.error is None))
    with ThreadPoolExecutor(max_workers=size) as pool:
        list(pool.map(lambda learner: run_learner(hub, learner, barrier, calls), [x for x in learners if not x.error]))
    for learner in learners:
        learner.peak_rss_mib = sampler.peaks.get(learner.name, 0.0)
    with ThreadPoolExecutor(max_workers=size) as pool:
        list(pool.map(admin.stop_server, names))
    admin.close()
    return Round(size, learners, hub_rss_mib=sampler.hub_peak)


def line(r: Round) -> str:
    spawn = [x.spawn_s for x in r.learners if x.spawn_s]
    rss = [x.peak_rss_mib for x in r.learners if x.peak_rss_mib]
    calls = [ms for x in r.learners for ms in x.addticket_ms]
    return (
        f"classroom N={r.size} ok={r.ok}/{r.size} "
        f"spawn_s_p50={percentile(spawn, 50):.1f} spawn_s_max={max(spawn, default=0):.1f} "
        f"rss_mib_p50={percentile(rss, 50):.0f} rss_mib_max={max(rss, default=0):.0f} "
        f"addticket_ms_p50={percentile(calls, 50):.1f} addticket_ms_p95={percentile(calls, 95):.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,2,3", help="class sizes to try, in order (default: 1,2,3)")
    parser.add_argument("--calls", type=int, default=20, help="addTicket calls per learner (default: 20)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--class-dir", type=Path, help="keep the class folder here (default: a temporary one)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]

    scratch = tempfile.TemporaryDirectory(prefix="tourlab-classroom-")
    class_dir = args.class_dir or Path(scratch.name) / "class"
    log = ROOT / "artifacts" / "bench" / "classroom-hub.log"
    hub = HubProcess(class_dir, log, "--spawner", "local", "--cull-timeout", "86400")
    rounds: list[Round] = []
    hub.start()
    sampler = Sampler(hub)
    sampler.start()
    try:
        for size in sizes:
            sampler.peaks.clear()
            done = run_round(hub, size, args.calls, sampler)
            rounds.append(done)
            print(line(done), flush=True)
            if done.ok < size:
                failed = [f"{x.name}: {x.error or 'check failed'}" for x in done.learners if not x.ok]
                print("classroom failures: " + "; ".join(failed), flush=True)
                break
    finally:
        sampler.stopped.set()
        leftovers = hub.stop()
        scratch.cleanup()
    if leftovers:
        print(f"classroom WARNING processes left after the hub stopped: {leftovers}", flush=True)

    passed = [r for r in rounds if r.ok == r.size]
    best = passed[-1] if passed else None
    rss = [x.peak_rss_mib for r in passed for x in r.learners]
    spawn = [x.spawn_s for r in passed for x in r.learners]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in rounds], indent=1))
    for r in rounds:
        print(line(r))
    print(
        f"classroom RESULT max_ok={best.size if best else 0} tried={max(sizes)} "
        f"rss_mib_per_learner={max(rss, default=0):.0f} spawn_s_p50={statistics.median(spawn) if spawn else 0:.1f} "
        f"addticket_ms_p95={percentile([ms for x in best.learners for ms in x.addticket_ms], 95) if best else 0:.1f} "
        f"hub_rss_mib={max((r.hub_rss_mib for r in rounds), default=0):.0f}"
    )
    return 0 if best is not None and best.size == max(sizes) else 1


if __name__ == "__main__":
    sys.exit(main())
