"""The course's workspaces, the %%handler splice and progress: edits are never lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tourlab import LabError
from tourlab.course import EXERCISES, Progress, Workspace, course_overview, edit
from tourlab.course.magic import parse_line

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
