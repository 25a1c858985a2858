"""Open a chapter: a fresh lab serving its workspace (or what last loaded), and its first cell's output."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from tour.auxiliary import email_client, payment_client, payment_provider
from tourlab import Lab
from tourlab.course import magic
from tourlab.course.cells import course_cells
from tourlab.course.section import NOT_LOADED, Section, error_detail
from tourlab.course.sections import find_section
from tourlab.course.workspace import Workspace


def open_section(
    name: str, *, fresh: bool = True, lab: Lab | None = None, show: bool = True, always_replay: bool = False
) -> Section:
    """Start (or restart) the lab for a notebook and make its workspace live.

    With ``fresh`` (the default) this kernel's Restate starts over with no state and no
    invocations, and the environment variables an earlier run of a chapter set (``TOUR_…``)
    are put back, so the notebook gives the same results every time it runs from the top.
    ``always_replay`` starts Restate so that every await suspends and replays the handler
    (see ``Lab.start``). Your workspace files are never touched: they are created only if missing.
    If they do not load (a saved typo), the last version that loaded serves (or the chapter's
    starting checkpoint) and the first cell says what broke; the section works all the same.
    """
    spec = find_section(name)
    if _in_notebook():
        _quiet_shell_commands()
    if fresh and lab is None:  # the kernel's own lab: a notebook run from the top
        _restore_environment()
    workspace = None
    if spec.start_from is not None:
        workspace = Workspace(spec.workspace_name, start_from=spec.start_from, course_cells=course_cells(spec))
    created = workspace.ensure() if workspace is not None else False
    app_dir: str | Path = workspace.path if workspace is not None else spec.app
    problem: str | None = None
    fallback_dir: Path | None = None
    try:
        lab = _serve(app_dir, lab, fresh=fresh, always_replay=always_replay)
    except NOT_LOADED as broken:
        if workspace is None:
            raise
        fallback_dir, what = _fallback(workspace)
        lab = _serve(fallback_dir, lab, fresh=fresh, always_replay=always_replay)
        problem = (
            f"✘ {str(broken).splitlines()[0]}\n  {error_detail(broken)}\n"
            f"Now serving {what} instead; fix the file and run section.reload()."
        )
    else:
        if workspace is not None:
            workspace.remember_good()
    payment_client.reset()
    email_client.reset()
    payment_provider.reset()  # a re-run starts without the last run's requests, answers and pending replies
    section = Section(spec, lab, workspace)
    section.created = created
    section.problem = problem
    section._fallback = fallback_dir
    section.progress.opened(spec.id)
    magic.activate(section.cell)
    if show:
        _display(section)
    return section


def _serve(app_dir: str | Path, lab: Lab | None, *, fresh: bool, always_replay: bool) -> Lab:
    if lab is not None:
        lab.load(app_dir)
        return lab
    current = Lab.current()
    if current is not None and fresh:
        current.stop()
    return Lab.start(app_dir, always_replay=always_replay)


#: Where last-good copies of broken workspaces are served from (outside the project: a package of its own).
_FALLBACKS = Path(tempfile.gettempdir()) / f"tourlab-last-good-{os.getpid()}"


def _fallback(workspace: Workspace) -> tuple[Path, str]:
    """A copy to serve while the workspace does not load: its last good version, or its starting checkpoint."""
    files = workspace.last_good()
    what = f"the last version of {workspace.display_path} that loaded"
    if not files:
        files = workspace.starting_files()
        what = f"the starting checkpoint {workspace.start_from}/"
    if not _FALLBACKS.exists():
        atexit.register(shutil.rmtree, _FALLBACKS, ignore_errors=True)
    target = _FALLBACKS / f"{workspace.name}_last_good"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for file, text in files.items():
        (target / file).write_text(text)
    return target, what


#: The ``TOUR_…`` environment as this kernel's first section found it.
_ENVIRONMENT: dict[str, str] | None = None


def _restore_environment() -> None:
    """Put the ``TOUR_…`` variables back as the kernel's first ``open_section`` found them.

    Chapters shorten timers through them (08 sets the payment timeout to 2 s after its first
    order); a second Run All in the same kernel must not start with what the first one left.
    """
    global _ENVIRONMENT
    current = {k: v for k, v in os.environ.items() if k.startswith("TOUR_")}
    if _ENVIRONMENT is None:
        _ENVIRONMENT = current
        return
    for key in current.keys() - _ENVIRONMENT.keys():
        del os.environ[key]
    os.environ.update(_ENVIRONMENT)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    return get_ipython() is not None


def _quiet_shell_commands() -> None:
    """Make ``!command`` output in a notebook plain and stable."""
    # `!restate ...` runs in a pseudo-terminal: plain output, no spinners or colour codes (ipykernel
    # sets CLICOLOR_FORCE, which makes the CLI colour and wrap its tables anyway).
    os.environ.pop("CLICOLOR_FORCE", None)
    os.environ.update(NO_COLOR="1", TERM="dumb")


def _display(section: Section) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is None:
        return
    display(section.header())  # type: ignore[no-untyped-call]
    button = section.reset_button()
    if button is not None:
        display(button)  # type: ignore[no-untyped-call]
