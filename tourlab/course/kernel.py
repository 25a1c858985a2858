"""What the course's kernels load at start (an IPython extension, see binder/install_jupyter_defaults.py).

After a kernel restart (or a cull) nothing of the notebook's first cell is left: a later cell would
stop at ``NameError: name 'section' is not defined``. With this extension it says in one line what
to do instead, and a ``%%handler`` cell says the same rather than "Cell magic not found".
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from tourlab.course import magic

#: The names a chapter's first cell defines.
FIRST_CELL_NAMES = ("section", "lab")

ADVICE = (
    "{name!r} is not defined: this kernel has not run the chapter's first cell (after a restart, "
    "everything starts over). Run the first cell (open_section), then this one."
)


def advice(error: BaseException) -> str | None:
    """The one line for a NameError of a first cell's name; None for any other error."""
    name = getattr(error, "name", None)
    if isinstance(error, NameError) and name in FIRST_CELL_NAMES and not magic.active():
        return ADVICE.format(name=name)
    return None


def _show(
    shell: Any, kind: type[BaseException], error: BaseException, tb: TracebackType | None, tb_offset: int | None = None
) -> None:
    line = advice(error)
    if line is None:
        shell.showtraceback((kind, error, tb), tb_offset=tb_offset)
    else:
        shell._showtraceback(kind, error, [f"✘ {line}"])


def load_ipython_extension(shell: Any) -> None:
    """Called by IPython when a kernel starts with ``tourlab.course.kernel`` among its extensions."""
    shell.set_custom_exc((NameError,), _show)
    magic.register(shell)
