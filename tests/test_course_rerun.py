"""Run All reaches the last cell whatever the learner did before: each chapter with an exercise runs
three times in one kernel, as a learner's Run All does, after solving its exercises in the editor,
after a comment-only edit and after a saved typo (nbclient executes the cells, like JupyterLab)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from nbclient import NotebookClient

from tourlab._config import PROJECT_ROOT
from tourlab.course import EXERCISES, SECTIONS, SectionSpec

CHAPTERS = [spec for spec in SECTIONS if spec.exercises]

#: Code run in the kernel before a round: changes the workspace files as the editor would (the
#: course's record of what it wrote is not touched). `{workspace}`, `{start}` and `{edits}` are filled in.
EDITOR = """\
import ast as _ast
from pathlib import Path as _Path

from tourlab.course import Workspace as _Workspace, edit as _edit

_ws = _Workspace({workspace!r}, start_from={start!r})
_ws.ensure()
for _file, _cell, _how in {edits!r}:
    _target = _ws.path / _file
    if _how == "solve":  # as after a first Run All: the exercise's skeleton is what the course wrote last
        _ws.write(_file, {skeletons!r}[_file + _cell], kind="skeleton")
    _text = _target.read_text() if _target.exists() else ""
    if _how == "solve":
        _text = _edit.splice(_text, _cell).text
    else:
        _names = [_edit.definition_name(_node) for _node in _ast.parse(_cell).body]
        for _node in _ast.parse(_text).body:
            if _edit.definition_name(_node) in _names and isinstance(_node, (_ast.FunctionDef, _ast.AsyncFunctionDef)):
                _lines = _text.splitlines(keepends=True)
                _extra = "    # my own note\\n" if _how == "comment" else "    return (\\n"
                _lines.insert(_node.body[0].lineno - 1, _extra)
                _text = "".join(_lines)
                break
    _target.write_text(_text)
    if _how == "typo":
        break  # one saved typo
print("editor:", {edits!r}[0][2], "in", _ws.display_path)
"""


def _edits(spec: SectionSpec, how: str) -> list[tuple[str, str, str]]:
    return [(EXERCISES[e].file, EXERCISES[e].solution, how) for e in spec.exercises]


def _round(spec: SectionSpec, how: str, cells: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    skeletons = {EXERCISES[e].file + EXERCISES[e].solution: EXERCISES[e].skeleton for e in spec.exercises}
    editor = EDITOR.format(
        workspace=spec.workspace_name, start=spec.start_from, edits=_edits(spec, how), skeletons=skeletons
    )
    return [nbformat.v4.new_code_cell(editor, metadata={"round": how}), *[cell.copy() for cell in cells]]


@pytest.mark.parametrize("spec", CHAPTERS, ids=lambda s: s.notebook)
def test_run_all_reaches_the_last_cell_after_editor_solutions_comments_and_typos(
    spec: SectionSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOURLAB_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("TOURLAB_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.setenv("TOURLAB_NONINTERACTIVE", "1")  # nobody clicks: the click cells act in code at once
    monkeypatch.delenv("TOUR_RESERVATION_SECONDS", raising=False)
    source = nbformat.read(PROJECT_ROOT / "notebooks" / f"{spec.notebook}.ipynb", as_version=4)
    code = [cell for cell in source.cells if cell.cell_type == "code"]
    for cell in code:
        cell.outputs, cell.execution_count = [], None
    rounds = ["solve", "comment", "typo"]
    notebook = nbformat.v4.new_notebook(metadata=source.metadata)
    notebook.cells = [cell for how in rounds for cell in _round(spec, how, code)]
    # Unix sockets, not TCP ports another process could take before the kernel binds them (notebooks/conftest.py).
    kernel = KernelManager(transport="ipc", ip=str(tmp_path / "k"))
    NotebookClient(
        notebook,
        km=kernel,
        timeout=300,
        allow_errors=True,
        resources={"metadata": {"path": str(PROJECT_ROOT / "notebooks")}},
    ).execute()

    errors = [
        (cell.source.splitlines()[0], out.get("ename"), out.get("evalue"))
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
    assert errors == [], errors
    assert all(cell.execution_count is not None for cell in notebook.cells)  # Run All reached the last cell

    texts = [_text(cell) for cell in notebook.cells]
    per_round = len(code) + 1
    solved, commented, typo = (texts[i * per_round : (i + 1) * per_round] for i in range(3))
    for exercise_id in spec.exercises:
        [check] = [
            t for c, t in zip(code, solved[1:], strict=True) if c.source.strip() == f'section.check("{exercise_id}")'
        ]
        assert check.startswith("PASSED"), check
    assert all(f"{e}: passed" in solved[-1] for e in spec.exercises), solved[-1]
    assert all(f"{e}: passed" in commented[-1] for e in spec.exercises), commented[-1]
    # The saved typo: nothing passes; where the app imports the file (13's is a test module, which the
    # app does not import), the first cell says where the typo is and serves the last good version.
    if (PROJECT_ROOT / spec.start_from / EXERCISES[spec.exercises[0]].file).exists():
        assert "✘ Your handler code did not load" in typo[1], typo[1]
        assert "Now serving the last version of" in typo[1], typo[1]
    # The typo goes into the first exercise's file: every exercise in that file fails its check.
    broken = [e for e in spec.exercises if EXERCISES[e].file == EXERCISES[spec.exercises[0]].file]
    assert all(f"{e}: not passed yet" in typo[-1] for e in broken), typo[-1]


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
    return textwrap.dedent("".join(parts))
