"""The notebooks and the course machinery agree: exercise cells, section openers, the magic."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tourlab import Lab, RegistrationError
from tourlab._config import PROJECT_ROOT
from tourlab.course import EXERCISES, SECTIONS, SectionSpec, open_section

NOTEBOOKS = PROJECT_ROOT / "notebooks"
OURS = [spec for spec in SECTIONS if spec.id != "07"]  # 07_tracing has its own tests


def _code_cells(notebook: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    return [cell for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("spec", OURS, ids=lambda s: s.notebook)
def test_notebook_opens_its_section_and_ends_with_done(spec: SectionSpec) -> None:
    cells = _code_cells(spec.notebook)
    assert f'open_section("{spec.notebook}")' in cells[0].source
    assert cells[-1].source.strip() == "section.done()"


@pytest.mark.parametrize("spec", SECTIONS, ids=lambda s: s.notebook)
def test_the_saved_panels_show_a_working_lab(spec: SectionSpec) -> None:
    # JupyterLab draws the saved widget state when a learner opens a notebook, before any cell runs:
    # panels saved after their lab stopped would greet the learner with red errors.
    nb = nbformat.read(NOTEBOOKS / f"{spec.notebook}.ipynb", as_version=4)
    saved = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    values = [str(model["state"].get("value", "")) for model in saved.values()]
    assert not [value for value in values if "does not answer" in value or "color:#dc2626'>down" in value]


@pytest.mark.parametrize("spec", SECTIONS, ids=lambda s: s.notebook)
def test_run_all_never_stops(spec: SectionSpec) -> None:
    # Errors are shown as output, never raised: JupyterLab's Run All honours `raises-exception`,
    # VS Code and Colab do not.
    for cell in _code_cells(spec.notebook):
        assert "raises-exception" not in cell.metadata.get("tags", []), cell.source
        assert all(out.output_type != "error" for out in cell.get("outputs", [])), cell.source


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_exercise_cell_is_the_registered_skeleton_followed_by_its_check(exercise_id: str) -> None:
    exercise = EXERCISES[exercise_id]
    spec = next(s for s in SECTIONS if s.id == exercise.section)
    cells = _code_cells(spec.notebook)
    expected = f"%%handler {exercise.file}\n" + exercise.skeleton
    positions = [i for i, cell in enumerate(cells) if cell.source.strip() == expected.strip()]
    assert positions, f"{spec.notebook} has no exercise cell with the skeleton of {exercise_id}"
    assert cells[positions[0] + 1].source.strip() == f'section.check("{exercise_id}")'
    assert any(cell.source.strip() == f'section.solution("{exercise_id}")' for cell in cells)
    assert exercise_id in spec.exercises


@pytest.fixture
def shell(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("TOURLAB_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("TOURLAB_PROGRESS", str(tmp_path / "progress.json"))
    for name in ("GRPC_VERBOSITY", "GRPC_ENABLE_FORK_SUPPORT", "NO_COLOR", "TERM"):
        # open_section adjusts these inside a shell; put them back afterwards.
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
    instance = InteractiveShell.instance()
    yield instance
    InteractiveShell.clear_instance()
    lab.load("tour/part1")


def test_handler_magic_writes_the_cell_and_reloads(lab: Lab, shell: Any, unique: Callable[[str], str]) -> None:
    section = open_section("01_invoking_handlers", lab=lab, show=False)
    assert section.workspace is not None
    cell = (
        "from .ticket_object import reserve\n\n\n"
        '@cart.handler("addTicket")\n'
        "async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:\n"
        "    return not await ctx.object_call(reserve, key=ticket_id, arg=None)\n"
    )
    result = shell.run_cell(f"%%handler cart_object.py\n{cell}")
    assert result.success, result.error_in_exec
    assert "replaced add_ticket; imported reserve" in repr(result.result)
    assert "return not await" in section.workspace.read("cart_object.py")
    assert lab.call("CartObject", unique("magic"), "addTicket", "seat1") is False

    # The same cell after an edit in the editor: the cell runs, the learner's version is kept (and said so).
    target = section.workspace.path / "cart_object.py"
    target.write_text(target.read_text().replace("return not await", "return await"))
    kept = shell.run_cell(f"%%handler cart_object.py\n{cell}")
    assert kept.success, kept.error_in_exec
    assert "Kept your version of add_ticket (changed in the editor)" in repr(kept.result)
    assert "return not await" not in target.read_text()

    # Broken code is shown, not raised: Run All goes on, and the previous code keeps serving.
    broken = shell.run_cell("%%handler cart_object.py\nbroken = undefined_name\n")
    assert broken.success, broken.error_in_exec
    assert "✘ Your handler code did not load" in repr(broken.result)
    assert "NameError: name 'undefined_name' is not defined" in repr(broken.result)
    assert lab.call("CartObject", unique("magic"), "addTicket", "seat1") is True


def test_a_syntax_error_in_a_handler_cell_shows_the_cells_own_line_and_goes_on(lab: Lab, shell: Any) -> None:
    open_section("01_invoking_handlers", lab=lab, show=False)
    cell = (
        "%%handler cart_object.py\n@cart.handler()\nasync def checkout(ctx: ObjectContext) -> bool\n    return True\n"
    )
    result = shell.run_cell(cell)
    assert result.success, result.error_in_exec
    shown = repr(result.result).splitlines()
    # Line 3 as the notebook numbers the cell's lines (the %%handler line is line 1), and the caret under it.
    assert shown[0] == "✘ This cell has a syntax error on line 3 of the cell: expected ':'"
    assert shown[1] == "    async def checkout(ctx: ObjectContext) -> bool"
    assert shown[2].index("^") == shown[1].index("bool") + len("bool")
    assert "Nothing was written" in shown[3]
    usage = shell.run_cell("%%handler\nx = 1\n")
    assert usage.success
    assert repr(usage.result).startswith("✘ Usage: %%handler <file.py>")


def test_restate_refusing_the_code_is_shown_not_raised(lab: Lab, shell: Any) -> None:
    section = open_section("01_invoking_handlers", lab=lab, show=False)

    def refuse(app_dir: object) -> None:
        raise RegistrationError("Restate refused the endpoint (400): bad service\nThe previous version keeps serving.")

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(lab, "load", refuse)
        result = shell.run_cell("%%handler cart_object.py\nEXTRA = 1\n")
        assert result.success, result.error_in_exec
        assert "✘ Restate refused the endpoint (400): bad service" in repr(result.result)
        assert "✘ Restate refused" in section.reload().text


def test_a_saved_typo_still_opens_the_section_on_the_last_good_version(lab: Lab, shell: Any) -> None:
    first = open_section("01_invoking_handlers", lab=lab, show=False)
    assert first.workspace is not None
    assert first.problem is None
    cart = first.workspace.path / "cart_object.py"
    cart.write_text(cart.read_text().replace("def checkout(ctx: ObjectContext)", "def checkout(ctx:: ObjectContext)"))

    again = open_section("01_invoking_handlers", lab=lab, show=False)  # the next Run All, with the typo saved
    header = repr(again.header())
    assert "✘ Your handler code did not load" in header
    assert "cart_object.py, line" in header
    assert "Now serving the last version of workspace/s01_invoking_handlers/ that loaded" in header
    assert lab.call("CartObject", "typo-user", "addTicket", "seat1") is True  # the section works
    # A demo cell into the broken file changes nothing there, and still runs on the last good version.
    demo = shell.run_cell('%%handler cart_object.py\nGREETING = "hello"\n')
    assert "✘ workspace/s01_invoking_handlers/cart_object.py, line" in repr(demo.result)
    assert "Meanwhile the last version that loaded serves, with this cell" in repr(demo.result)
    assert "ctx:: ObjectContext" in cart.read_text()
    # Fixed in the editor: a reload serves the workspace again.
    cart.write_text(cart.read_text().replace("ctx::", "ctx:"))
    assert again.reload().text.startswith("Live: CartObject")
    assert lab.loaded is not None
    assert lab.loaded.package == "s01_invoking_handlers"


def test_open_section_puts_back_what_an_earlier_run_set_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from tourlab.course import opening as section_module

    monkeypatch.setattr(section_module, "_ENVIRONMENT", None)
    monkeypatch.delenv("TOUR_PAYMENT_TIMEOUT_SECONDS", raising=False)
    monkeypatch.setenv("TOUR_SETTLE_SECONDS", "5")  # set before open_section, as 12's first cell does
    section_module._restore_environment()  # what the kernel's first open_section does
    os.environ["TOUR_PAYMENT_TIMEOUT_SECONDS"] = "2"  # as a cell of 08 does, after its first order
    monkeypatch.setenv("TOUR_SETTLE_SECONDS", "5")
    section_module._restore_environment()  # Run All again, in the same kernel
    assert "TOUR_PAYMENT_TIMEOUT_SECONDS" not in os.environ
    assert os.environ["TOUR_SETTLE_SECONDS"] == "5"


def test_the_course_cells_are_the_notebooks_demos_and_the_registered_skeletons() -> None:
    from tourlab.course.cells import course_cells

    spec = next(s for s in SECTIONS if s.id == "05")
    cells = course_cells(spec)
    into_handle = [c.source for c in _code_cells(spec.notebook) if c.source.startswith("%%handler checkout_service")]
    demos = [source.partition("\n")[2] for source in into_handle if "TODO" not in source]
    assert demos
    assert all(demo in cells["checkout_service.py"] for demo in demos)
    assert EXERCISES["email_notifications"].skeleton in cells["checkout_service.py"]
    # An exercise cell of the notebook counts only as its registered skeleton, never as what is saved there.
    assert len(cells["checkout_service.py"]) == len(demos) + 1
