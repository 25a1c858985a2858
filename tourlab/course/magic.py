"""The ``%%handler`` cell magic: write a notebook cell into the section's handler module.

    %%handler cart_object.py
    @cart.handler("addTicket")
    async def add_ticket(ctx: ObjectContext, ticket_id: str) -> bool:
        ...

The cell's definitions replace the ones with the same name in ``workspace/<section>/cart_object.py``
(its imports are merged), then the lab reloads the package and re-registers it with Restate.
Add ``--force`` to overwrite a definition that was changed in the editor in the meantime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tourlab import LabError
from tourlab.course.views import Shown

#: Writes a cell into a workspace file: (file, cell, force) -> what to show.
Writer = Callable[[str, str, bool], Any]

_writer: Writer | None = None


def activate(writer: Writer) -> None:
    """Make `writer` the one ``%%handler`` cells go to, and register the magic in IPython."""
    global _writer
    _writer = writer
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the course
        return
    shell = get_ipython()
    if shell is not None:
        register(shell)


def active() -> bool:
    """Whether a section is open in this kernel (its ``%%handler`` cells have somewhere to go)."""
    return _writer is not None


def register(shell: Any) -> None:
    """Register ``%%handler`` in an IPython shell."""
    shell.register_magic_function(handler_magic, magic_kind="cell", magic_name="handler")


def parse_line(line: str) -> tuple[str, bool]:
    """``"cart_object.py --force"`` -> ``("cart_object.py", True)``."""
    words = line.split()
    force = "--force" in words
    files = [w for w in words if w != "--force"]
    if len(files) != 1:
        raise LabError("Usage: %%handler <file.py> [--force], e.g. %%handler cart_object.py")
    return files[0], force


def handler_magic(line: str, cell: str) -> Any:
    """Write the cell into the active section's workspace and reload it; a problem is shown, never raised."""
    if _writer is None:
        return Shown("✘ No section is open in this kernel (after a restart, too): run the chapter's first cell.")
    try:
        file, force = parse_line(line)
    except LabError as error:
        return Shown(f"✘ {error}")
    # One empty line for the magic's own: line numbers in messages are the cell's, as the notebook shows them.
    return _writer(file, "\n" + cell, force)
