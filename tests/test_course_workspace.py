"""The course's workspaces, the %%handler splice and progress: edits are never lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tourlab import PROJECT_ROOT, LabError
from tourlab.course import EXERCISES, Progress, Workspace, course_overview, edit
from tourlab.course.magic import parse_line
from tourlab.course.workspace import WorkspaceFileError

ADD_TICKET = """\
from .ticket_object import reserve


@cart.handler("addTicket")
async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:
    return await ctx.object_call(reserve, key=ticket_id, arg=None)
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace("s01_invoking_handlers", start_from="tour/app", root=tmp_path / "workspace")
    assert ws.ensure() is True
    return ws


def test_workspace_is_a_relative_copy_of_its_start(workspace: Workspace) -> None:
    assert workspace.files() == ["__init__.py", "app.py", "cart_object.py", "checkout_service.py", "ticket_object.py"]
    app = workspace.read("app.py")
    assert "from .cart_object import cart" in app
    assert "tour.app" not in app
    assert (workspace.root / ".gitignore").read_text().splitlines()[-1] == "*"


def test_ensure_never_overwrites_an_existing_workspace(workspace: Workspace) -> None:
    target = workspace.path / "cart_object.py"
    target.write_text(target.read_text() + "\n# my own note\n")
    assert workspace.ensure() is False
    assert target.read_text().endswith("# my own note\n")


def test_splice_replaces_one_definition_and_merges_imports(workspace: Workspace) -> None:
    written = workspace.write("cart_object.py", ADD_TICKET)
    text = workspace.read("cart_object.py")
    assert written.summary == "replaced add_ticket; imported reserve"
    assert "from .ticket_object import reserve" in text
    assert "return await ctx.object_call(reserve, key=ticket_id, arg=None)" in text
    assert text.count("async def add_ticket") == 1
    assert "async def checkout" in text
    assert "async def expire_ticket" in text


def test_splice_widens_an_existing_from_import() -> None:
    module = "from .ticket_object import reserve\n\n\ndef f():\n    return 1\n"
    result = edit.splice(module, "from .ticket_object import unreserve\n\n\ndef g():\n    return 2\n")
    assert result.text.startswith("from .ticket_object import reserve, unreserve\n")
    assert result.added == ["g"]
    assert result.text.rstrip().endswith("return 2")


def test_splice_puts_new_constants_before_the_handlers() -> None:
    module = (
        "import restate\n\nticket = restate.VirtualObject('T')\n\n\n"
        "@ticket.handler()\nasync def reserve(ctx):\n    return True\n"
    )
    cell = 'SOLD = "SOLD"\n\n\n@ticket.handler()\nasync def reserve(ctx):\n    return SOLD\n'
    text = edit.splice(module, cell).text
    assert text.index('SOLD = "SOLD"') < text.index("@ticket.handler()")
    assert text.count("async def reserve") == 1


def test_splice_puts_a_new_class_before_its_first_use_and_imports_first() -> None:
    module = (
        "from restate import ObjectContext\n\n\n"
        "async def checkout(ctx: ObjectContext, order: dict) -> bool:\n    return True\n"
    )
    cell = (
        "from typing import TypedDict\n\n\nclass SeatOrder(TypedDict):\n    seats: list[str]\n\n\n"
        "async def checkout(ctx: ObjectContext, order: SeatOrder) -> bool:\n    return bool(order)\n"
    )
    text = edit.splice(module, cell).text
    compile(text, "cart_object.py", "exec")
    assert text.index("from typing import TypedDict") < text.index("class SeatOrder") < text.index("async def checkout")
    fresh = edit.splice("", "import pytest\n\npytestmark = pytest.mark.anyio\n")
    assert fresh.text.index("import pytest") < fresh.text.index("pytestmark")


def test_cells_may_only_define_things() -> None:
    with pytest.raises(edit.CellSourceError, match="only hold imports"):
        edit.splice("x = 1\n", "print('hello')\n")


def test_editor_changes_are_never_overwritten_without_force(workspace: Workspace) -> None:
    workspace.write("cart_object.py", ADD_TICKET)
    target = workspace.path / "cart_object.py"
    edited = target.read_text().replace("arg=None)", "arg=None)  # edited in the editor")
    target.write_text(edited)

    kept = workspace.write("cart_object.py", ADD_TICKET)
    assert kept.kept == ("add_ticket",)
    assert target.read_text() == edited
    assert workspace.edited_elsewhere() == {"cart_object.py": ["add_ticket"]}

    # A cell that touches another handler is fine: the editor's change stays.
    workspace.write(
        "cart_object.py", "@cart.handler()\nasync def checkout(ctx: ObjectContext) -> bool:\n    return False\n"
    )
    assert "# edited in the editor" in target.read_text()

    forced = workspace.write("cart_object.py", ADD_TICKET, force=True)
    assert forced.kept == ()
    assert "# edited in the editor" not in target.read_text()
    assert forced.backup is not None
    assert "# edited in the editor" in (forced.backup / "cart_object.py").read_text()


def test_reset_backs_up_and_restores_the_start(workspace: Workspace) -> None:
    workspace.write("cart_object.py", ADD_TICKET)
    saved = workspace.reset()
    assert saved is not None
    assert "object_call(reserve" in (saved / "cart_object.py").read_text()
    assert "object_call" not in workspace.read("cart_object.py")
    assert workspace.changed_elsewhere("cart_object.py") == []


def test_magic_line() -> None:
    assert parse_line("cart_object.py") == ("cart_object.py", False)
    assert parse_line("cart_object.py --force") == ("cart_object.py", True)
    with pytest.raises(LabError, match="Usage"):
        parse_line("")


def test_progress_is_recorded_and_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOURLAB_PROGRESS", str(tmp_path / "progress.json"))
    progress = Progress()
    assert f"Exercises passed: 0 of {len(EXERCISES)}" in repr(course_overview())
    progress.opened("01")
    progress.checked("checkout_calls_handle", passed=False, problem="no call")
    progress.checked("checkout_calls_handle", passed=True, problem=None)
    record = progress.load()["exercises"]["checkout_calls_handle"]
    assert (record["attempts"], record["last_problem"]) == (2, None)
    progress.finished("04")
    shown = repr(course_overview())
    assert "01_invoking_handlers" in shown
    assert "[x] checkout_calls_handle" in shown
    assert f"Exercises passed: 1 of {len(EXERCISES)}" in shown
    rows = {name: state for name, state, _ in course_overview().rows()}
    assert rows["01_invoking_handlers"] == "opened"
    assert rows["04_virtual_objects_and_state"] == "finished"
    assert "| 01_invoking_handlers | ○ opened | ✔ checkout_calls_handle |" in course_overview()._repr_markdown_()


#: A chapter's cells for cart_object.py: a demo that rewrites expire_ticket, and the exercise's skeleton.
DEMO = """\
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    ctx.object_send(unreserve, key=ticket_id, arg=None)  # the demo's version
"""
SKELETON = """\
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    # TODO: release the seat only if it is in this cart
    pass
"""
SOLVED = """\
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id in tickets:
        tickets.remove(ticket_id)
        ctx.set("tickets", tickets)
        ctx.object_send(unreserve, key=ticket_id, arg=None)
"""


@pytest.fixture
def chapter(tmp_path: Path) -> Workspace:
    """A workspace whose course writes DEMO and SKELETON into cart_object.py (as a notebook's cells would)."""
    ws = Workspace(
        "s01_invoking_handlers",
        start_from="tour/app",
        root=tmp_path / "workspace",
        course_cells={"cart_object.py": [DEMO, SKELETON]},
    )
    ws.ensure()
    return ws


def _in_the_editor(ws: Workspace, cell: str) -> None:
    target = ws.path / "cart_object.py"
    target.write_text(edit.splice(target.read_text(), cell).text)


def test_a_skeleton_never_replaces_a_solution_even_one_the_course_wrote_last(chapter: Workspace) -> None:
    # The learner solved the exercise in its cell (so the course itself wrote the solution), then runs a
    # fresh copy of the notebook: the skeleton cell meets a file equal to what the course last wrote.
    chapter.write("cart_object.py", SKELETON, kind="skeleton")
    chapter.write("cart_object.py", SOLVED)
    kept = chapter.write("cart_object.py", SKELETON, kind="skeleton")
    assert kept.kept == ("expire_ticket",)
    assert "if ticket_id in tickets" in chapter.read("cart_object.py")

    # A fix in the editor equal to an earlier cell attempt is the learner's too.
    _in_the_editor(chapter, DEMO.replace("# the demo's version", "# tried this"))
    chapter.write("cart_object.py", DEMO.replace("# the demo's version", "# tried this"))
    _in_the_editor(chapter, SOLVED)
    assert chapter.write("cart_object.py", SKELETON, kind="skeleton").kept == ("expire_ticket",)
    assert "if ticket_id in tickets" in chapter.read("cart_object.py")

    # Asked to: the skeleton replaces it, after a backup.
    forced = chapter.write("cart_object.py", SKELETON, kind="skeleton", force=True)
    assert forced.backup is not None
    assert "if ticket_id in tickets" in (forced.backup / "cart_object.py").read_text()
    assert "TODO" in chapter.read("cart_object.py")


def test_a_demo_installs_its_code_after_a_backup_and_the_exercise_puts_the_learners_back(chapter: Workspace) -> None:
    chapter.write("cart_object.py", SKELETON, kind="skeleton")  # the first Run All
    _in_the_editor(chapter, SOLVED.replace("    tickets =", "    # mine\n    tickets ="))

    demo = chapter.write("cart_object.py", DEMO, kind="course")
    assert demo.replaced_yours == ("expire_ticket",)
    assert demo.backup is not None
    assert "# mine" in (demo.backup / "cart_object.py").read_text()
    assert "# the demo's version" in chapter.read("cart_object.py")
    assert chapter.edited_elsewhere() == {}  # the demo's code is the course's

    back = chapter.write("cart_object.py", SKELETON, kind="skeleton")
    assert back.restored == ("expire_ticket",)
    assert back.summary == "put back expire_ticket"
    assert "# mine" in chapter.read("cart_object.py")
    assert "TODO" not in chapter.read("cart_object.py")
    # Put back once: the next run's demo and skeleton do the same again, nothing is lost on the way.
    again = chapter.write("cart_object.py", DEMO, kind="course")
    assert again.backup is not None
    assert chapter.write("cart_object.py", SKELETON, kind="skeleton").restored == ("expire_ticket",)


def test_a_demo_brings_back_a_definition_deleted_in_the_editor(chapter: Workspace) -> None:
    chapter.write("cart_object.py", DEMO, kind="course")
    target = chapter.path / "cart_object.py"
    target.write_text(edit.without(target.read_text(), {"expire_ticket"}))
    assert "expire_ticket" not in target.read_text()
    written = chapter.write("cart_object.py", DEMO, kind="course")
    assert written.backup is None  # nothing of the learner's to save
    assert "# the demo's version" in target.read_text()


def test_the_solution_keeps_a_version_that_passed_unless_forced(chapter: Workspace) -> None:
    solution = EXERCISES["checkout_calls_handle"].solution
    chapter.write("cart_object.py", SKELETON, kind="skeleton")
    _in_the_editor(chapter, SOLVED)
    chapter.remember_passed("cart_object.py", ["expire_ticket"])
    kept = chapter.write("cart_object.py", SOLVED.replace("if ticket_id", "if  ticket_id"), kind="solution")
    assert kept.kept == ("expire_ticket",)
    # A learner's version that did not pass is replaced, after a backup.
    _in_the_editor(chapter, DEMO.replace("demo's version", "my attempt"))
    replaced = chapter.write("cart_object.py", SOLVED, kind="solution")
    assert replaced.backup is not None
    assert "my attempt" in (replaced.backup / "cart_object.py").read_text()
    assert "checkout" in solution  # the reference solution is a cell like any other
    # The learner's own cell replacing a version that passed: replaced as asked, but saved first.
    chapter.remember_passed("cart_object.py", ["expire_ticket"])
    own = chapter.write("cart_object.py", DEMO.replace("demo's version", "another idea"))
    assert own.replaced_yours == ("expire_ticket",)
    assert own.backup is not None
    assert "if ticket_id in tickets" in (own.backup / "cart_object.py").read_text()
    assert "another idea" in chapter.read("cart_object.py")


def test_a_file_that_does_not_parse_is_named_with_its_line(chapter: Workspace) -> None:
    target = chapter.path / "cart_object.py"
    target.write_text(target.read_text() + "\ndef broken(:\n")
    with pytest.raises(WorkspaceFileError, match=r"cart_object\.py, line \d+: SyntaxError"):
        chapter.write("cart_object.py", DEMO, kind="course")
    assert "def broken(:" in target.read_text()  # not touched
    assert "cart_object.py" not in chapter.edited_elsewhere()
    chapter.remember_good()
    assert chapter.last_good()["cart_object.py"].endswith("def broken(:\n")


def test_the_course_defaults_keep_connected_kernels_and_load_the_kernel_extension(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("defaults", PROJECT_ROOT / "binder" / "install_jupyter_defaults.py")
    assert spec is not None
    assert spec.loader is not None
    defaults = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(defaults)
    kernel_config = tmp_path / "etc" / "ipython" / "ipython_kernel_config.json"
    kernel_config.parent.mkdir(parents=True)
    kernel_config.write_text(json.dumps({"InteractiveShellApp": {"extensions": ["someone_elses"]}}))

    defaults.install(prefix=tmp_path, app_dir=tmp_path / "lab")

    server = json.loads((tmp_path / "etc" / "jupyter" / "jupyter_server_config.json").read_text())
    assert server["MappingKernelManager"]["cull_connected"] is False
    assert server["MappingKernelManager"]["cull_idle_timeout"] == 1200  # forgotten kernels still go
    extensions = json.loads(kernel_config.read_text())["InteractiveShellApp"]["extensions"]
    assert extensions == ["someone_elses", "tourlab.course.kernel"]
    lab = json.loads((tmp_path / "lab" / "settings" / "overrides.json").read_text())
    assert lab["@jupyterlab/filebrowser-extension:browser"]["navigateToCurrentDirectory"] is True
    assert lab["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True


def test_after_a_kernel_restart_a_cell_says_to_run_the_first_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from tourlab.course import kernel, magic

    monkeypatch.setattr(magic, "_writer", None)
    shell = InteractiveShell.instance()
    try:
        kernel.load_ipython_extension(shell)
        shown: list[list[str]] = []
        monkeypatch.setattr(shell, "_showtraceback", lambda kind, error, lines: shown.append(lines))
        result = shell.run_cell('section.check("expire_ticket")')
        assert isinstance(result.error_in_exec, NameError)
        assert shown == [[f"✘ {kernel.ADVICE.format(name='section')}"]]
        assert "Run the first cell (open_section)" in shown[0][0]
        handler = shell.run_cell("%%handler cart_object.py\nx = 1\n")
        assert "run the chapter's first cell" in repr(handler.result)
        other = shell.run_cell("undefined_thing")
        assert kernel.advice(other.error_in_exec) is None  # other NameErrors keep their traceback
    finally:
        InteractiveShell.clear_instance()


def test_a_kernel_with_the_course_config_gives_the_advice_after_a_restart(tmp_path: Path) -> None:
    """The kernel config file the defaults install is read by a real kernel (here from IPYTHONDIR's
    profile, which IPython reads under the same name as <prefix>/etc/ipython)."""
    import os

    from jupyter_client.manager import start_new_kernel

    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "binder" / "ipython_kernel_config.json", profile)
    manager, client = start_new_kernel(
        env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython"), "PYTHONPATH": str(PROJECT_ROOT)}
    )
    try:
        reply = client.execute_interactive('section.check("expire_ticket")', timeout=60)
        assert reply["content"]["status"] == "error"
        advice = (
            "✘ 'section' is not defined: this kernel has not run the chapter's first cell (after a restart, "
            "everything starts over). Run the first cell (open_section), then this one."
        )
        assert reply["content"]["traceback"] == [advice]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_twelves_v2_demo_happens_after_a_comment_in_checkout(tmp_path: Path) -> None:
    """12's demo cells rewrite checkout: a learner's comment there no longer stops the demo."""
    from tourlab.course import find_section
    from tourlab.course.cells import course_cells

    spec = find_section("12")
    cells = course_cells(spec)
    assert spec.start_from is not None
    ws = Workspace(spec.workspace_name, start_from=spec.start_from, root=tmp_path / "workspace", course_cells=cells)
    ws.ensure()
    target = ws.path / "order_service.py"
    target.write_text(target.read_text().replace("    total = await", "    # my note\n    total = await", 1))
    assert ws.yours("order_service.py") == ["checkout"]

    [v2_demo] = [cell for cell in cells["order_service.py"] if "loyalty_discount" in cell]
    written = ws.write("order_service.py", v2_demo, kind="course")
    assert written.replaced_yours == ("checkout",)
    assert written.backup is not None
    assert "# my note" in (written.backup / "order_service.py").read_text()
    assert "loyalty_discount" in ws.read("order_service.py")
