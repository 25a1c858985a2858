"""bench/course_memory.py measures a real kernel and its restate-server (smoke test on a tiny notebook)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import psutil

from tourlab import _config


def load_bench():
    path = _config.PROJECT_ROOT / "bench" / "course_memory.py"
    spec = importlib.util.spec_from_file_location("course_memory", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_samples_the_kernel_and_its_restate_server(tmp_path: Path) -> None:
    bench = load_bench()
    notebook = tmp_path / "01_tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("A tiny course notebook."),
        nbformat.v4.new_code_cell("from tourlab import Lab\nlab = Lab.start('tour/part3')"),
        nbformat.v4.new_code_cell("assert lab.call('CartObject', 'bench', 'addTicket', 'seat9Z') is True"),
        nbformat.v4.new_code_cell("raise SystemExit('skipped cells must not run')", metadata={"tags": ["nbval-skip"]}),
    ]
    nbformat.write(nb, notebook)
    # Processes this test process already runs (e.g. the session lab's server) are not the notebook's.
    already = {process.pid for process in psutil.Process().children(recursive=True)}

    row, _ = bench.run_notebook(notebook, interval=0.05, timeout=120, keep_kernel=False, exclude=already)
    bench._wait_for_descendants_to_exit(keep=already)

    assert row.status == "ok"
    assert row.cells == 3
    assert row.peak.kernel > 0
    assert row.peak.restate > 0
    assert row.peak.total >= max(row.peak.kernel, row.peak.restate)
    assert row.peak.processes >= 2
    left = {process.pid for process in psutil.Process().children(recursive=True)} - already
    assert not left, "the notebook's kernel and restate-server must be gone after the run"
