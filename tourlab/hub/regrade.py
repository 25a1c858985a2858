"""Regrade: re-run exercise checks on each learner's current workspace files, away from the hub.

A regrade never runs a learner's code in the hub's (or the gradebook's) process. For each learner
it starts a **worker**, ``python -m tourlab.hub.regrade --workspace-root DIR --exercise ID ...``,
which copies each exercise's chapter folder (``workspace/s<NN>_<notebook>/``) to a scratch folder,
starts a fresh :class:`tourlab.Lab` (a fresh embedded Restate) on it, runs the exercise's check,
stops the lab, and writes one JSON line per exercise. Where the worker runs depends on the spawner:

- ``docker``: in a ``docker run`` of the lab image, with no network, a read-only root filesystem,
  and only the learner's ``workspace/`` mounted (read-only), as the image's ``learner`` user;
- ``local``: as a child process of this machine's user with a clean environment (no hub token or
  setting) in a scratch folder, which is how the local spawner runs every learner's code anyway.

``./course hub regrade`` (:func:`main`) picks the learners and exercises, runs the workers a few
at a time and stores each result in the gradebook as **verified**, beside what the learners'
kernels reported themselves. The gradebook's page runs the same command with ``--json-lines``
and stores what it prints.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from tourlab import PROJECT_ROOT, HandlerModuleError, Lab, LabError
from tourlab.course import EXERCISES, find_section, run_check
from tourlab.hub.engine import choose_spawner, ensure_lab_image
from tourlab.hub.gradebook import Store, Verified
from tourlab.hub.settings import HubSettings, default_image

#: Seconds one exercise's check may take in a worker (a fresh Restate included) before it is stopped.
EXERCISE_TIMEOUT = 240.0
#: Where the learner's workspace is mounted inside a regrade container.
CONTAINER_WORKSPACE = "/regrade/workspace"
CONTAINER_LABEL = "org.restate-tour-lab.role=regrade"
#: Lines the worker writes start with this, so anything else on its output is never taken for a result.
MARK = "tourlab-regrade "
#: The worker's variables a container gets (its image has the course on the path and its own PATH).
CONTAINER_ENV = ("HOME", "TOURLAB_HOME", "TOURLAB_RUNTIME", "TOURLAB_TRACING", "PYTHONDONTWRITEBYTECODE", "LANG")


def workspace_folder(exercise_id: str) -> str:
    """The chapter folder an exercise is written in: ``s<NN>_<notebook>``."""
    return find_section(EXERCISES[exercise_id].section).workspace_name


@dataclass(frozen=True)
class Outcome:
    """What the worker found for one exercise; ``passed`` is None when the check could not run.

    ``solution_code``: the exercise's functions in the workspace are the reference solution's,
    statement for statement (comments and layout aside), as ``apply_solution`` writes them.
    """

    exercise: str
    section: str
    passed: bool | None
    message: str | None
    seconds: float
    solution_code: bool = False


def same_as_solution(module: Path, solution: str) -> bool:
    """Whether every function of the solution cell is defined the same way in `module`."""
    try:
        wanted = _functions(solution)
        found = _functions(module.read_text())
    except (OSError, SyntaxError, ValueError):
        return False
    return bool(wanted) and all(found.get(name) == code for name, code in wanted.items())


def _functions(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return {node.name: ast.dump(node) for node in tree.body if isinstance(node, kinds)}


# -- the worker: runs beside the learner's code, never beside the hub's ------------------------------


def check_exercise(root: Path, exercise_id: str, scratch: Path) -> Outcome:
    """Check one exercise on a copy of its chapter folder, in a fresh lab that is stopped afterwards."""
    from tour.auxiliary import email_client, payment_client

    section = EXERCISES[exercise_id].section
    folder = root / workspace_folder(exercise_id)
    started = time.monotonic()

    def outcome(passed: bool | None, message: str | None, solution_code: bool = False) -> Outcome:
        return Outcome(exercise_id, section, passed, message, round(time.monotonic() - started, 2), solution_code)

    if not (folder / "app.py").is_file():
        return outcome(False, f"workspace/{folder.name}/ has no app.py: chapter {section} was never opened.")
    copy = scratch / exercise_id / folder.name
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__", ".backups"), symlinks=True)
    payment_client.reset()
    email_client.reset()
    try:
        lab = Lab.start(copy)
    except HandlerModuleError as broken:
        return outcome(False, f"The workspace does not load: {broken}")
    except LabError as error:
        return outcome(None, f"The lab did not start: {error}")
    try:
        result = run_check(exercise_id, lab)
    except Exception as error:  # noqa: BLE001 - whatever the learner's code did, the regrade goes on
        return outcome(False, f"The check stopped with {type(error).__name__}: {error}")
    finally:
        lab.stop()
    exercise = EXERCISES[exercise_id]
    return outcome(result.ok, result.problem, same_as_solution(folder / exercise.file, exercise.solution))


def worker(argv: list[str] | None = None) -> int:
    """``python -m tourlab.hub.regrade``: check exercises of one learner's workspace, one JSON line each."""
    parser = argparse.ArgumentParser(prog="python -m tourlab.hub.regrade")
    parser.add_argument("--workspace-root", type=Path, required=True, help="the learner's workspace/ folder")
    parser.add_argument("--exercise", action="append", required=True, choices=sorted(EXERCISES))
    args = parser.parse_args(argv)
    # Results go to the original stdout; whatever the learner's code prints goes to stderr.
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    with tempfile.TemporaryDirectory(prefix="regrade-") as scratch:
        for exercise_id in args.exercise:
            found = check_exercise(args.workspace_root, exercise_id, Path(scratch))
            results.write(MARK + json.dumps(asdict(found)) + "\n")
            results.flush()
    return 0


# -- running workers for learners -------------------------------------------------------------------


@dataclass(frozen=True)
class Runner:
    """How to start a worker for a learner: ``local`` or ``docker`` (with the lab image)."""

    kind: str
    image: str = ""

    def command(self, workspace: Path, exercises: list[str], name: str) -> list[str]:
        flags = [f"--exercise={exercise}" for exercise in exercises]
        if self.kind == "local":
            return [sys.executable, "-m", "tourlab.hub.regrade", f"--workspace-root={workspace}", *flags]
        return [
            "docker", "run", "--rm", f"--name={name}", f"--label={CONTAINER_LABEL}",
            "--network=none", "--user=1000:1000", "--read-only", "--tmpfs=/tmp:rw,exec,size=1g",
            "--cap-drop=ALL", "--security-opt=no-new-privileges", "--pids-limit=1024",
            # The limits of a learner's own container (HubSettings).
            f"--memory={HubSettings.mem_limit}", f"--cpus={HubSettings.cpu_limit}",
            f"--volume={workspace}:{CONTAINER_WORKSPACE}:ro", "--workdir=/tmp",
            *(f"--env={key}={value}" for key, value in worker_env(Path("/tmp")).items() if key in CONTAINER_ENV),
            "--entrypoint=python", self.image, "-m", "tourlab.hub.regrade",
            f"--workspace-root={CONTAINER_WORKSPACE}", *flags,
        ]  # fmt: skip

    def stop(self, process: subprocess.Popen[str], name: str) -> None:
        """End a worker and everything it started (its process group, or its container)."""
        if self.kind == "docker":
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def worker_env(scratch: Path) -> dict[str, str]:
    """The whole environment of a worker: nothing of the hub's (tokens, settings) is passed on."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "PYTHONPATH": str(PROJECT_ROOT),
        "HOME": str(scratch),
        "TOURLAB_HOME": str(scratch / ".tourlab"),
        "TOURLAB_RUNTIME": "embedded",
        "TOURLAB_TRACING": "off",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
    }


#: Workers running now, by name: what a signal to ``./course hub regrade`` stops before it exits.
_running: dict[str, tuple[Runner, subprocess.Popen[str]]] = {}
_running_lock = threading.Lock()


def stop_workers() -> None:
    """Stop every worker this process started that still runs (their containers and process groups too)."""
    with _running_lock:
        running = list(_running.items())
    for name, (runner, process) in running:
        runner.stop(process, name)


def run_worker(runner: Runner, learner: str, workspace: Path, exercises: list[str]) -> list[Outcome]:
    """Regrade some exercises of one learner; an exercise the worker did not answer for could not run."""
    if not workspace.is_dir():
        never = f"There is no workspace/ folder: {learner} never opened a chapter."
        return [Outcome(e, EXERCISES[e].section, False, never, 0.0) for e in exercises]
    name = f"tourlab-regrade-{learner}-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="tourlab-regrade-") as scratch:
        command = runner.command(workspace, exercises, name)
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=scratch,
            env=worker_env(Path(scratch)) if runner.kind == "local" else _docker_cli_env(),
            start_new_session=True,
        )
        with _running_lock:
            _running[name] = (runner, process)
        timeout = 30 + EXERCISE_TIMEOUT * len(exercises)
        try:
            out, err = process.communicate(timeout=timeout)
            problem = f"the regrade worker exited with {process.returncode}"
        except subprocess.TimeoutExpired:
            runner.stop(process, name)
            out, err = process.communicate()
            problem = f"the regrade took more than {timeout:g} s and was stopped"
        finally:
            with _running_lock:
                _running.pop(name, None)
            if process.poll() is None:
                runner.stop(process, name)
            with contextlib.suppress(ProcessLookupError):  # whatever the learner's code left in the group
                os.killpg(process.pid, signal.SIGKILL)
    found = {o.exercise: o for o in _outcomes(out)}
    tail = " | ".join(line for line in err.strip().splitlines()[-3:] if line.strip())
    if "No module named tourlab.hub.regrade" in err:
        tail = f"the lab image {runner.image} predates regrades: remove it (docker rmi), ./course hub builds it again"
    return [
        found.get(e) or Outcome(e, EXERCISES[e].section, None, f"{problem}: {tail or 'no output'}", 0.0)
        for e in exercises
    ]


def _docker_cli_env() -> dict[str, str]:
    """The docker command line's environment: this process's, without the hub's tokens and settings."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTERHUB_", "TOURLAB_"))}


def _outcomes(out: str) -> Iterator[Outcome]:
    for line in out.splitlines():
        if line.startswith(MARK):
            with contextlib.suppress(TypeError, ValueError):  # a garbled line is no result
                yield Outcome(**json.loads(line.removeprefix(MARK)))


# -- which learners, which exercises ----------------------------------------------------------------


def plan(
    homes: Path, learners: list[str], exercises: list[str], reported: Collection[tuple[str, str]] = ()
) -> dict[str, list[str]]:
    """Exercises to regrade per learner.

    The named exercises; without names, those of every chapter the learner opened plus those the
    learner reported a check of (``reported``: (learner, exercise)), so a pass posted for a chapter
    never opened is regraded too. Without learner names, every folder in ``homes`` with a
    ``workspace/`` is a learner.
    """
    names = learners
    if not names and homes.is_dir():
        with_reports = {learner for learner, _ in reported}
        names = sorted(p.name for p in homes.iterdir() if (p / "workspace").is_dir() or p.name in with_reports)
    chosen: dict[str, list[str]] = {}
    for name in names:
        workspace = homes / name / "workspace"
        wanted = exercises or [
            e for e in EXERCISES if (workspace / workspace_folder(e)).is_dir() or (name, e) in reported
        ]
        if wanted:
            chosen[name] = list(wanted)
    return chosen


def regrade(
    homes: Path,
    work: dict[str, list[str]],
    runner: Runner,
    *,
    jobs: int = 2,
    done: Callable[[Verified], None] = lambda _: None,
) -> list[Verified]:
    """Run the workers, `jobs` learners at a time; `done` sees each learner's results as they come (in this thread)."""

    def one(learner: str) -> list[Verified]:
        started = time.time()
        outcomes = run_worker(runner, learner, homes / learner / "workspace", work[learner])
        return [
            Verified(
                learner, o.exercise, o.section, o.passed, o.message, started, o.seconds, runner.kind, o.solution_code
            )
            for o in outcomes
        ]

    results: list[Verified] = []
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for finished in as_completed([pool.submit(one, learner) for learner in work]):
            for result in finished.result():
                done(result)
                results.append(result)
    return results


# -- ./course hub regrade -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    base = HubSettings()
    parser = argparse.ArgumentParser(
        prog="./course hub regrade",
        description=(
            "Re-run exercise checks on learners' current workspace files and store the results in the "
            "gradebook as verified (beside what their kernels reported)."
        ),
    )
    parser.add_argument(
        "--class-dir",
        type=Path,
        metavar="DIR",
        default=os.environ.get("TOURLAB_CLASS_DIR", base.class_dir),
        help="the class folder (default: .tourlab/class)",
    )
    parser.add_argument("--learner", action="append", default=[], metavar="NAME", help="only this learner; repeat")
    parser.add_argument(
        "--exercise", action="append", default=[], choices=sorted(EXERCISES), metavar="ID", help="only this exercise"
    )
    parser.add_argument(
        "--spawner",
        choices=("auto", "local", "docker"),
        default=os.environ.get("TOURLAB_HUB_SPAWNER", "auto"),
        help="where learners' code runs: docker (a lab container each), local, or auto (docker if it answers)",
    )
    parser.add_argument("--image", default=os.environ.get("TOURLAB_HUB_IMAGE", default_image()), help="the lab image")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="learners regraded at the same time")
    parser.add_argument(
        "--json-lines", action="store_true", help="print each result as a JSON line instead of storing it"
    )
    return parser.parse_args(argv)


def command(argv: list[str]) -> int:
    """``./course hub regrade`` as a process: Ctrl+C or SIGTERM (the gradebook stopping) stops the workers first."""

    def interrupted(signum: int, _frame: FrameType | None) -> None:
        stop_workers()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    return main(argv)


def main(argv: list[str] | None = None, out: IO[str] = sys.stdout) -> int:
    """``./course hub regrade``: regrade, store as verified, print one line per result and a summary."""
    args = parse_args(argv)
    class_dir = Path(args.class_dir).resolve()
    homes = class_dir / "home"
    spawner = choose_spawner() if args.spawner == "auto" else args.spawner
    if spawner == "docker":
        try:
            ensure_lab_image(args.image, class_dir / "images")
        except RuntimeError as error:
            print(f"The lab image {args.image} could not be built: {error}", file=sys.stderr)  # noqa: T201
            return 1
    runner = Runner(spawner, args.image)
    missing = [name for name in args.learner if not (homes / name).is_dir()]
    if missing:  # a user who never started a server has no files to regrade
        print(f"No folder in {homes} for {', '.join(missing)}: skipped", file=sys.stderr)  # noqa: T201
    named = [name for name in args.learner if name not in missing]
    if args.learner and not named:
        return 0
    book = Store(class_dir / "gradebook.sqlite")
    reported = {(a.learner, a.exercise) for a in book.attempts() if a.exercise in EXERCISES}
    store: Store | None = book
    if args.json_lines:  # the gradebook stores what is printed
        book.close()
        store = None
    work = plan(homes, named, args.exercise, reported)

    def done(result: Verified) -> None:
        if store is None:
            print(json.dumps(asdict(result)), file=out, flush=True)
            return
        store.add_verified(result)
        mark = {True: "passed", False: "not passed", None: "could not run"}[result.passed]
        note = f": {result.message}" if result.message else ""
        print(f"{result.learner:<16} {result.exercise:<24} {mark} ({result.seconds:.1f} s){note}", file=out, flush=True)

    if store is not None:
        total = sum(len(v) for v in work.values())
        print(f"Regrading {total} exercise(s) of {len(work)} learner(s) ({spawner} spawner)", file=out, flush=True)
    started = time.monotonic()
    try:
        results = regrade(homes, work, runner, jobs=args.jobs, done=done)
    finally:
        if store is not None:
            store.close()
    if store is not None:
        passed = sum(1 for r in results if r.passed)
        failed = sum(1 for r in results if r.passed is None)
        print(
            f"Done in {time.monotonic() - started:.1f} s: {passed} of {len(results)} passed"
            + (f", {failed} could not run" if failed else ""),
            file=out,
        )
    return 0


if __name__ == "__main__":
    sys.exit(worker())
