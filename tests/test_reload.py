"""Hot reload: new logic and new handlers go live; broken code leaves the old version serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from tourlab import HandlerModuleError, Lab


def _edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new))


def test_reload_serves_the_edited_logic(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    lab.load(app)
    assert lab.call("CartObject", unique("cart"), "addTicket", "seat1") is True

    _edit(app / "ticket_object.py", "    return True\n", "    return False\n")
    lab.reload()

    assert lab.call("CartObject", unique("cart"), "addTicket", "seat1") is False


def test_same_size_edit_within_one_second_is_not_hidden_by_bytecode(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    module = app / "checkout_service.py"
    _edit(module, "    return True\n", '    return "A"\n')
    lab.load(app)
    assert lab.call("CheckoutService", None, "handle", {"user_id": "u", "tickets": []}) == "A"

    # Same length, same second: a cached .pyc would still match size and mtime.
    _edit(module, '    return "A"\n', '    return "B"\n')
    lab.reload()

    assert lab.call("CheckoutService", None, "handle", {"user_id": "u", "tickets": []}) == "B"


def test_reload_registers_a_new_handler(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    lab.load(app)
    with (app / "cart_object.py").open("a") as module:
        module.write(
            '\n\n@cart.handler("countTickets")\nasync def count_tickets(ctx: ObjectContext) -> int:\n    return 7\n'
        )
    live = lab.reload()

    assert "countTickets" in live.services["CartObject"]
    assert lab.call("CartObject", unique("cart"), "countTickets") == 7


def test_syntax_error_names_file_and_line_and_keeps_old_version(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    lab.load(app)
    _edit(app / "cart_object.py", "    return await ctx.object_call(", "    return await ctx.object_call(((")

    with pytest.raises(HandlerModuleError) as raised:
        lab.reload()

    assert raised.value.filename is not None
    assert raised.value.filename.endswith("cart_object.py")
    assert raised.value.lineno is not None
    assert "previous version keeps serving" in str(raised.value)
    assert lab.call("CartObject", unique("cart"), "addTicket", "seat1") is True


def test_runtime_error_at_import_points_at_the_learners_line(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    lab.load(app)
    _edit(
        app / "ticket_object.py",
        'ticket = restate.VirtualObject("TicketObject")\n',
        'ticket = restate.VirtualObject("TicketObject")\nundefined_name\n',
    )

    with pytest.raises(HandlerModuleError, match="NameError") as raised:
        lab.reload()

    assert raised.value.filename is not None
    assert raised.value.filename.endswith("ticket_object.py")
    assert raised.value.lineno == 5
    assert lab.call("CartObject", unique("cart"), "addTicket", "seat1") is True


def test_duplicate_handler_is_reported_and_old_version_keeps_serving(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    lab.load(app)
    with (app / "ticket_object.py").open("a") as module:
        module.write("\n\n@ticket.handler()\nasync def reserve(ctx: ObjectContext) -> bool:\n    return False\n")

    with pytest.raises(HandlerModuleError, match="already exists"):
        lab.reload()

    assert lab.call("CartObject", unique("cart"), "addTicket", "seat1") is True


def test_handler_prints_go_to_the_endpoint_log_not_the_cell(lab: Lab, copy_part, unique, capsys):
    app = copy_part("part1")
    marker = unique("printed-by-handler")
    _edit(
        app / "ticket_object.py",
        "async def reserve(ctx: ObjectContext) -> bool:\n",
        f"async def reserve(ctx: ObjectContext) -> bool:\n    print({marker!r})\n",
    )
    lab.load(app)

    assert lab.call("CartObject", unique("cart"), "addTicket", "seat1") is True

    assert marker in lab.logs("endpoint")
    assert marker not in capsys.readouterr().out
