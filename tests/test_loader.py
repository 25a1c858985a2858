"""What a broken handler module reports, straight from the loader: no Restate, no endpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tourlab import HandlerModuleError
from tourlab._loader import load_app

pytestmark = pytest.mark.unit


def _edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new))


def test_a_fresh_copy_loads_with_its_services(copy_part):
    loaded = load_app(copy_part("part1"))
    assert set(loaded.services) == {"CartObject", "CheckoutService", "TicketObject"}
    assert "addTicket" in loaded.services["CartObject"]


def test_a_syntax_error_names_the_file_and_its_line(copy_part):
    app = copy_part("part1")
    _edit(app / "cart_object.py", "    return await ctx.object_call(", "    return await ctx.object_call(((")
    with pytest.raises(HandlerModuleError, match="SyntaxError") as raised:
        load_app(app)
    assert (raised.value.filename or "").endswith("cart_object.py")
    assert raised.value.lineno is not None


def test_an_error_at_import_points_at_the_learners_line(copy_part):
    app = copy_part("part1")
    _edit(
        app / "ticket_object.py",
        'ticket = restate.VirtualObject("TicketObject")\n',
        'ticket = restate.VirtualObject("TicketObject")\nundefined_name\n',
    )
    with pytest.raises(HandlerModuleError, match="NameError") as raised:
        load_app(app)
    assert (raised.value.filename or "").endswith("ticket_object.py")
    assert raised.value.lineno == 5


def test_a_duplicate_handler_is_named(copy_part):
    app = copy_part("part1")
    with (app / "ticket_object.py").open("a") as module:
        module.write("\n\n@ticket.handler()\nasync def reserve(ctx: ObjectContext) -> bool:\n    return False\n")
    with pytest.raises(HandlerModuleError, match="already exists"):
        load_app(app)


def test_a_folder_without_app_py_is_a_clear_error(tmp_path: Path):
    empty = tmp_path / "empty_pkg"
    empty.mkdir()
    with pytest.raises(HandlerModuleError, match=r"No app\.py"):
        load_app(empty)


def test_a_failed_load_puts_the_previous_modules_back(copy_part):
    app = copy_part("part1")
    first = load_app(app)
    _edit(app / "cart_object.py", "    return await ctx.object_call(", "    return await ctx.object_call(((")
    with pytest.raises(HandlerModuleError):
        load_app(app)
    assert sys.modules[f"{first.package}.app"].app is first.app
