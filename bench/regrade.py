"""How long ``./course hub regrade`` takes for a class: N learners, the exercises of chapters 01-05 solved.

Builds a scratch class folder with N learners. Each has the workspaces of chapters 01, 04 and 05
(the chapters of 01-05 with exercises) as ``open_section`` makes them, with the reference
solution of every exercise written in, as a learner who solved them has. Then it regrades the
whole class with the code ``./course hub regrade`` runs: one worker per learner (a container of
the lab image under ``docker``, a child process under ``local``), ``--jobs`` learners at a time,
a fresh lab and Restate per exercise.

    .venv/bin/python bench/regrade.py                                   # 20 learners, docker if it answers
    .venv/bin/python bench/regrade.py --learners 20 --spawner local --json artifacts/bench/regrade.json

The last lines are stable::

    regrade N=<n> spawner=<kind> jobs=<j> passed=<p>/<checks> total_s= per_learner_s_p50= per_learner_s_max=
        check_s_p50=                       (one line)
    regrade RESULT learners= checks= passed= total_s= total_per_learner_s=

``per_learner_s`` is one learner's worker from start to last result (all their checks, in series);
``total_per_learner_s`` is the class's total divided by N, what one more learner adds to a regrade.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from tourlab.course import EXERCISES, SECTIONS, Workspace
from tourlab.hub import regrade
from tourlab.hub.engine import choose_spawner, ensure_lab_image
from tourlab.hub.gradebook import Verified
from tourlab.hub.settings import default_image

CHAPTERS = ("01", "02", "03", "04", "05")


def solved_class(homes: Path, learners: int) -> list[str]:
    """N learners' folders with every exercise of chapters 01-05 solved; returns those exercises."""
    exercises = []
    for index in range(learners):
        for spec in SECTIONS:
            if spec.id not in CHAPTERS or not spec.exercises or spec.start_from is None:
                continue
            root = homes / f"learner{index}" / "workspace"
            workspace = Workspace(spec.workspace_name, start_from=spec.start_from, root=root)
            workspace.ensure()
            for exercise_id in spec.exercises:
                exercise = EXERCISES[exercise_id]
                workspace.write(exercise.file, exercise.solution)
                if index == 0:
                    exercises.append(exercise_id)
    return exercises


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=20, help="class size (default: 20)")
    parser.add_argument("--spawner", choices=("auto", "local", "docker"), default="auto")
    parser.add_argument("--image", default=os.environ.get("TOURLAB_HUB_IMAGE", default_image()))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="learners at a time (default: CPUs)")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args(argv)
    spawner = choose_spawner() if args.spawner == "auto" else args.spawner

    with tempfile.TemporaryDirectory(prefix="tourlab-regrade-bench-") as scratch:
        homes = Path(scratch) / "class" / "home"
        if spawner == "docker":
            ensure_lab_image(args.image, Path(scratch) / "images")
        exercises = solved_class(homes, args.learners)
        work = regrade.plan(homes, [], [])
        assert all(sorted(found) == sorted(exercises) for found in work.values()), work
        finished: dict[str, float] = {}

        def done(result: Verified) -> None:
            finished.setdefault(result.learner, time.time() - result.ran_at)
            if not result.passed:
                print(f"regrade failure {result.learner} {result.exercise}: {result.message}", flush=True)

        started = time.monotonic()
        results = regrade.regrade(homes, work, regrade.Runner(spawner, args.image), jobs=args.jobs, done=done)
        total = time.monotonic() - started

    passed = sum(1 for r in results if r.passed)
    per_learner = list(finished.values())
    checks = [r.seconds for r in results]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"total_s": total, "results": [asdict(r) for r in results]}, indent=1))
    print(
        f"regrade N={args.learners} spawner={spawner} jobs={args.jobs} passed={passed}/{len(results)} "
        f"total_s={total:.1f} per_learner_s_p50={statistics.median(per_learner):.1f} "
        f"per_learner_s_max={max(per_learner):.1f} check_s_p50={statistics.median(checks):.1f}"
    )
    print(
        f"regrade RESULT learners={args.learners} checks={len(results)} passed={passed} "
        f"total_s={total:.1f} total_per_learner_s={total / args.learners:.1f}"
    )
    return 0 if passed == len(results) == args.learners * len(exercises) else 1


if __name__ == "__main__":
    sys.exit(main())
