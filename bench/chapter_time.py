"""How long each chapter takes a learner: a stated model over what each notebook holds, plus Run All.

A learner's time is not something a machine can measure, so this script states its model and
counts what it applies to, for every notebook in notebooks/:

- reading: the words of the Markdown cells at 150 words a minute (technical prose, read closely);
- running: one minute per code cell that is not an exercise (run it, read its output or panel);
- exercises: 12 minutes per exercise (read the TODO, write, check, maybe one hint);
- waiting: the notebook's Run All wall time on this machine (nbclient, one kernel at a time),
  which a learner sits through once.

    .venv/bin/python bench/chapter_time.py            # every notebook, with Run All
    .venv/bin/python bench/chapter_time.py --no-run   # the model only, no kernels
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tourlab.course import EXERCISES, SECTIONS

ROOT = Path(__file__).resolve().parent.parent
WORDS_PER_MINUTE = 150
MINUTES_PER_CELL = 1.0
MINUTES_PER_EXERCISE = 12.0
_WORD = re.compile(r"\w[\w'.-]*")
_MERMAID = re.compile(r"```mermaid.*?```", re.DOTALL)


@dataclass
class Chapter:
    notebook: str
    words: int
    code_cells: int
    exercises: int
    run_all_seconds: float | None

    @property
    def minutes(self) -> float:
        reading = self.words / WORDS_PER_MINUTE
        running = self.code_cells * MINUTES_PER_CELL
        waiting = (self.run_all_seconds or 0.0) / 60
        return reading + running + self.exercises * MINUTES_PER_EXERCISE + waiting


def _count(path: Path) -> tuple[int, int]:
    notebook = nbformat.read(path, as_version=4)
    words = sum(len(_WORD.findall(_MERMAID.sub("", c.source))) for c in notebook.cells if c.cell_type == "markdown")
    code = sum(1 for c in notebook.cells if c.cell_type == "code" and "exercise" not in c.metadata.get("tags", []))
    return words, code


def _run_all(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="tourlab-chapter-time-") as scratch:
        os.environ["TOURLAB_WORKSPACE"] = str(Path(scratch, "workspace"))
        os.environ["TOURLAB_PROGRESS"] = str(Path(scratch, "progress.json"))
        client = NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        started = time.monotonic()
        client.execute()
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-run", action="store_true", help="count only; do not run the notebooks")
    args = parser.parse_args()

    chapters = []
    for spec in SECTIONS:
        path = ROOT / "notebooks" / f"{spec.notebook}.ipynb"
        words, code = _count(path)
        exercises = sum(1 for e in EXERCISES.values() if e.section == spec.id)
        seconds = None if args.no_run else _run_all(path)
        chapters.append(Chapter(spec.notebook, words, code, exercises, seconds))
        print(f"{spec.notebook:32} {words:5} words {code:3} cells {exercises} exercises", end="")
        print(
            "" if seconds is None else f"  Run All {seconds:5.0f} s",
            f"  ≈ {round(chapters[-1].minutes / 5) * 5:3.0f} min",
        )
    total = sum(c.minutes for c in chapters)
    print(f"{'whole course':32} ≈ {total / 60:.1f} h")


if __name__ == "__main__":
    main()
