"""A course section: one notebook's lab, workspace, exercises and progress, behind one object."""

from __future__ import annotations

import atexit
import html
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from tour.auxiliary import email_client, payment_client
from tourlab import (
    PROJECT_ROOT,
    HandlerModuleError,
    Invocation,
    Lab,
    LabError,
    RegistrationError,
    Reloaded,
    poll,
)
from tourlab.course import edit, magic
from tourlab.course.exercises import (
    EXERCISES,
    CheckResult,
    Exercise,
    error_hint,
    find_exercise,
    markdown_text,
    run_check,
)
from tourlab.course.progress import Progress
from tourlab.course.report import report_check
from tourlab.course.sections import SectionSpec, find_section
from tourlab.course.views import Shown, invocations_view, journal_view
from tourlab.course.workspace import Kind, Workspace, WorkspaceFileError, Written

#: What a lab cannot load or Restate refuses: shown as a ✘ line, never raised.
NOT_LOADED = (HandlerModuleError, RegistrationError)


class ResetBar(widgets.HBox):  # type: ignore[misc]
    """The reset buttons; as text (before the notebook runs, or outside JupyterLab) one line."""

    def __repr__(self) -> str:
        return "[Reset this section…] (a button: run this cell to use it)"


@dataclass(frozen=True)
class Solution:
    """A reference solution that stays folded until the learner opens it."""

    exercise_id: str
    code: str

    def __repr__(self) -> str:
        return (
            f"The solution of {self.exercise_id!r} is folded in the HTML view; "
            f"print(section.solution({self.exercise_id!r}).code) shows it here."
        )

    def _repr_html_(self) -> str:
        return (
            f"<details><summary>Show the solution of <code>{self.exercise_id}</code></summary>"
            f"<pre><code>{html.escape(self.code)}</code></pre>"
            f"<p>To write it into your workspace: <code>section.apply_solution({self.exercise_id!r})</code>"
            "</p></details>"
        )


class Section:
    """One notebook of the course.

    >>> section = open_section("02_durable_execution")
    >>> lab = section.lab
    >>> section.check("checkout_calls_handle")
    """

    def __init__(self, spec: SectionSpec, lab: Lab, workspace: Workspace | None) -> None:
        self.spec = spec
        self.lab = lab
        self.workspace = workspace
        self.created = False
        #: Why the workspace did not load when the section opened (a ✘ line), if it did not.
        self.problem: str | None = None
        #: The copy of the workspace's last good version that serves while the workspace does not load.
        self._fallback: Path | None = None
        self.progress = Progress()
        self._hints_shown: dict[str, int] = {}
        #: The outcome of each exercise's latest check in this run of the notebook.
        self._checked: dict[str, bool] = {}

    # -- code --------------------------------------------------------------------------------

    def _require_workspace(self) -> Workspace:
        if self.workspace is None:
            raise LabError(f"Section {self.spec.label} has no workspace: it runs {self.spec.app} as is.")
        return self.workspace

    def load_workspace(self) -> Reloaded:
        """Serve the learner's workspace (after edits in the editor, this picks them up)."""
        return self.lab.load(self._require_workspace().path)

    def _serve_line(self, folder: str | Path | None = None) -> str:
        """Serve `folder` (default: the workspace); one short line on what is live, or why it did not load."""
        before = self.lab.services
        try:
            after = self.lab.load(folder if folder is not None else self._require_workspace().path).services
        except NOT_LOADED as broken:
            return f"✘ {broken}"
        if folder is None and self.workspace is not None:
            self.workspace.remember_good()
            self._fallback = None  # the workspace itself serves again
        new = [f"{service}/{handler}" for service, handlers in after.items() for handler in handlers]
        added = [name for name in new if name.split("/")[1] not in before.get(name.split("/")[0], [])]
        live = f"Live: {', '.join(after)}"
        return f"{live} (new: {', '.join(added)})" if before and added else live

    def reload(self) -> Shown:
        """Reload the workspace (after edits in the editor) and say what is live."""
        return Shown(self._serve_line())

    def write(self, file: str, code: str, force: bool = False, *, kind: Kind = "yours") -> Shown:
        """Put `code` (imports and definitions) into a workspace file, reload and re-register.

        Your definitions are replaced only after a backup, and the output says so: your own
        cells keep what you changed in the editor since (``force`` replaces it), an exercise's
        skeleton keeps your version, a demo cell of the course installs its code (your version
        comes back at its exercise). See ``Workspace.write``.
        """
        workspace = self._require_workspace()
        try:
            written: Written = workspace.write(file, code, force=force, kind=kind)
        except SyntaxError as error:
            return _shown(_syntax_error(error))
        except edit.CellSourceError as error:
            return _shown(f"✘ {error}\nNothing was written; the code that was live keeps serving.")
        except WorkspaceFileError as error:
            lines = [f"✘ {error}", "Your file was not changed: fix that line in the editor, then section.reload()."]
            lines.extend(self._also_in_fallback(file, code, kind))
            return _shown("\n".join(lines))
        exercised = {f for e in self._exercises() if e.file == file for f in e.functions}
        comes_back = bool(set(written.replaced_yours) & exercised)
        lines = [f"{file}: {written.summary}", *_what_happened_to_yours(file, written, kind, comes_back=comes_back)]
        served = self._serve_line()
        lines.append(served)
        if served.startswith("✘"):
            lines.extend(self._also_in_fallback(file, code, kind))
        return Shown("\n".join(lines), "  \n".join(lines))

    def _also_in_fallback(self, file: str, code: str, kind: Kind) -> list[str]:
        """While the workspace does not load and a copy of its last good version serves, a cell of the
        course goes into that copy too, so the notebook's demos still happen (a skeleton does not)."""
        if self._fallback is None or kind == "skeleton":
            return []
        target = self._fallback / file
        try:
            target.write_text(edit.splice(target.read_text() if target.exists() else "", code).text)
            live = self.lab.load(self._fallback).services
        except (SyntaxError, LabError) as error:
            return [f"The last version that loaded did not take this cell either: {str(error).splitlines()[0]}"]
        return [f"Meanwhile the last version that loaded serves, with this cell: Live: {', '.join(live)}"]

    def cell(self, file: str, cell: str, force: bool = False) -> Shown:
        """A ``%%handler`` cell: its kind (the learner's, a course demo, an exercise's skeleton) decides the rules."""
        workspace = self._require_workspace()
        body = cell.strip()
        kind: Kind = "yours"
        if any(e.file == file and e.skeleton.strip() == body for e in self._exercises()):
            kind = "skeleton"
        elif body in (c.strip() for c in workspace.course_cells.get(file, [])):
            kind = "course"
        return self.write(file, cell, force, kind=kind)

    def show(self, file: str) -> Shown:
        """The current content of a workspace file."""
        text = self._require_workspace().read(file)
        return Shown(text, f"`{self._require_workspace().display_path}{file}`\n```python\n{text}```")

    def journal(self, invocation_id: str | None = None) -> Shown:
        """The journal of an invocation (default: the latest call or send), one entry a line."""
        return journal_view(self.lab.journal(invocation_id))

    def invocations(self, target: str | None = None) -> Shown:
        """What Restate ran (optionally only targets starting with `target`), oldest first."""
        return invocations_view(self.lab.invocations(target=target, limit=100))

    def output(self, invocation_id: str) -> Any:
        """The result of a completed invocation."""
        return self.lab.output(invocation_id)

    def wait_for_retries(self, invocation_id: str, retries: int, *, timeout: float = 20.0) -> Invocation | None:
        """Wait until Restate has retried a failing invocation `retries` times and is backing off.

        On time-out a ✘ line says what Restate showed instead; the last state seen is returned.
        """
        polled = poll(
            lambda: self.lab.invocation(invocation_id),
            lambda seen: seen is not None and seen.retry_count >= retries and seen.status == "backing-off",
            timeout=timeout,
        )
        if not polled.ok:
            _missed(f"{invocation_id} was not retried {retries} times within {timeout:g} s", _seen(polled.value))
        return polled.value

    def wait_for_target(self, target: str, *statuses: str, timeout: float = 15.0) -> Invocation | None:
        """Wait until an invocation of `target` (``Svc/key/handler``) exists and reaches a status
        (default: completed). Useful for invocations that a handler started with a message.
        On time-out a ✘ line says what there was instead; the newest invocation seen is returned."""
        wanted = statuses or ("completed",)

        def found() -> list[Invocation]:
            return [i for i in self.lab.invocations(target=target, limit=100) if i.target == target]

        polled = poll(found, lambda seen: any(i.status in wanted for i in seen), timeout=timeout)
        reached = [i for i in polled.value if i.status in wanted]
        if reached:
            return reached[0]
        newest = polled.value[0] if polled.value else None
        _missed(f"No invocation of {target} reached {', '.join(wanted)} within {timeout:g} s", _seen(newest))
        return newest

    def wait_for_count(self, target: str, count: int, status: str, *, timeout: float = 10.0) -> list[Invocation]:
        """Wait until `count` invocations of `target` are in `status` (Restate's tables lag by a few ms).
        On time-out a ✘ line says how many there were; those are returned."""
        polled = poll(
            lambda: [i for i in self.lab.invocations(target=target, limit=100) if i.status == status],
            lambda found: len(found) >= count,
            timeout=timeout,
        )
        if not polled.ok:
            _missed(f"Only {len(polled.value)} invocation(s) of {target} are {status!r} after {timeout:g} s", None)
        return polled.value

    def wait_until_waiting(self, invocation_id: str, what: str, *, timeout: float = 10.0) -> str:
        """Wait until what an invocation waits for (``lab.waiting_for``'s words) mentions `what`,
        e.g. "promise 'payment'"; returns those words (on time-out, after a ✘ line, what it waits for)."""
        polled = poll(lambda: self.lab.waiting_for(invocation_id), lambda seen: what in (seen or ""), timeout=timeout)
        if not polled.ok or polled.value is None:
            seen = polled.value or _seen(self.lab.invocation(invocation_id))
            _missed(f"{invocation_id} was not waiting for {what} within {timeout:g} s", f"it waits for: {seen}")
        return polled.value or ""

    def wait_until_finished(self, invocation_id: str, timeout: float = 10.0) -> str:
        """Wait until an invocation completed or Restate dropped it; returns which of the two (or its status)."""
        polled = poll(
            lambda: self.lab.invocation(invocation_id),
            lambda seen: seen is None or seen.status == "completed",
            timeout=timeout,
        )
        return "dropped" if polled.value is None else polled.value.status

    def panel(self) -> Any:
        """The live panels over this section's lab (invoke bar, journal, state, invocations, timers, trace)."""
        from tourlab.panels import Dashboard

        return Dashboard(self.lab)

    def continue_from_checkpoint(self) -> Shown:
        """Serve the reference solution this section ends with (``tour/partN``)."""
        checkpoint = self.spec.checkpoint or self.spec.app
        self.progress.solution_applied(*self.spec.exercises)
        return Shown(f"Now serving the reference code in {checkpoint}/.\n{self._serve_line(checkpoint)}")

    # -- exercises ---------------------------------------------------------------------------

    def _exercises(self) -> list[Exercise]:
        return [EXERCISES[e] for e in self.spec.exercises if e in EXERCISES]

    def _exercise(self, exercise_id: str) -> Exercise:
        exercise = find_exercise(exercise_id)
        if exercise.section != self.spec.id:
            raise LabError(f"{exercise_id!r} belongs to section {exercise.section}, not {self.spec.id}.")
        return exercise

    def check(self, exercise_id: str) -> CheckResult:
        """Load your workspace and test it against the exercise, through Restate.

        The result goes into your progress file (and, on the classroom hub, to the gradebook).
        """
        exercise = self._exercise(exercise_id)
        where = self._require_workspace().display_path
        try:
            self.load_workspace()
        except NOT_LOADED as broken:
            problem = f"{str(broken).splitlines()[0]} {_detail(broken)} (so nothing was checked)"
            result = CheckResult(
                exercise,
                problem=problem,
                hint=error_hint(str(broken)) or "Fix that line (the message says what Python did not like).",
                serving=f"Still serving: the last version of your workspace ({where}) that loaded, not this one.",
            )
        else:
            self._require_workspace().remember_good()
            result = run_check(exercise_id, self.lab)
            result.serving = f"Now serving: your workspace ({where}), the code this check tested."
            if result.ok:
                self._require_workspace().remember_passed(exercise.file, exercise.functions)
        self._checked[exercise_id] = result.ok
        applied = self.progress.checked(exercise_id, passed=result.ok, problem=result.problem)
        report_check(exercise_id, self.spec.id, result.ok, result.problem, solution_applied=applied)
        return result

    def hint(self, exercise_id: str) -> Shown:
        """The next hint for an exercise (the check already showed the first one)."""
        exercise = self._exercise(exercise_id)
        shown = min(self._hints_shown.get(exercise_id, 1) + 1, len(exercise.hints))
        self._hints_shown[exercise_id] = shown
        lines = [f"Hint {i + 1}/{len(exercise.hints)}: {h}" for i, h in enumerate(exercise.hints[:shown])]
        if shown == len(exercise.hints):
            lines.append(f"That was the last hint; section.solution({exercise_id!r}) has the answer.")
        # As Markdown the lines wrap between words (plain output in JupyterLab breaks words apart).
        return Shown("\n".join(lines), "\n\n".join(markdown_text(line) for line in lines))

    def solution(self, exercise_id: str) -> Solution:
        """The reference solution, folded."""
        return Solution(exercise_id, self._exercise(exercise_id).solution)

    def apply_solution(self, exercise_id: str, *, force: bool = False) -> Shown:
        """Write the reference solution of an exercise into your workspace (your version goes to a backup first;
        one that passed its check is kept unless ``force``)."""
        exercise = self._exercise(exercise_id)
        shown = self.write(exercise.file, exercise.solution, force=force, kind="solution")
        self.progress.solution_applied(exercise_id)
        return shown

    # -- life cycle --------------------------------------------------------------------------

    def reset(self, *, confirm: bool = False) -> Shown:
        """Put the workspace back to its starting point; your files are kept in workspace/.backups/."""
        workspace = self._require_workspace()
        if not confirm:
            return Shown(
                f"Nothing changed. section.reset(confirm=True) moves {workspace.display_path} to "
                f"workspace/.backups/ and starts it again from {workspace.start_from}/."
            )
        saved = workspace.reset()
        self.load_workspace()
        where = f" Your previous files are in workspace/.backups/{saved.name}/." if saved else ""
        return Shown(f"{workspace.display_path} is back at its starting point ({workspace.start_from}/).{where}")

    def header(self) -> Shown:
        spec, workspace = self.spec, self.workspace
        kind = self.lab.runtime_kind
        server = (
            "your own Restate server (state from earlier runs is kept)"
            if kind == "external"
            else f"a fresh, empty Restate ({kind})"
        )
        if self.lab.always_replay:
            server += ", replaying every handler from the top at each await"
        lines = [f"**Section {spec.label}** — running on {server}."]
        plain = [f"Section {spec.label}"]
        if workspace is not None:
            edited = sorted({name for names in workspace.edited_elsewhere().values() for name in names})
            if self.created:
                state = f"new copy of `{workspace.start_from}/`"
            elif edited:
                state = f"kept from last time, with your own {', '.join(edited)}"
            else:
                state = "kept from last time"
            if self.problem is None:
                lines.append(f"Your code: `{workspace.display_path}` ({state}), now live.")
            else:
                lines.append(f"Your code: `{workspace.display_path}` ({state}).")
                lines.extend(f"`{line}`" if line.startswith(" ") else line for line in self.problem.splitlines())
                plain.extend(self.problem.splitlines())
            lines.append(
                "Change it with a `%%handler <file>` cell, or in the editor followed by `section.reload()`. "
                "Start over with `section.reset(confirm=True)` (or the button below)."
            )
            plain.append(f"Your code: {workspace.display_path} ({state.replace('`', '')})")
        else:
            lines.append(f"Serving `{spec.app}/`.")
            plain.append(f"Serving {spec.app}/")
        if spec.exercises:
            lines.append("Exercises: " + ", ".join(f"`{e}`" for e in spec.exercises))
            plain.append("Exercises: " + ", ".join(spec.exercises))
        return Shown("\n".join(plain), "  \n".join(lines))

    def done(self) -> Shown:
        """Mark the section finished and sum up its exercises."""
        self.progress.finished(self.spec.id)
        lines = [f"Section {self.spec.label}: finished."]
        for exercise_id in self.spec.exercises:
            # The latest check of this run counts: a ✘ just above is not a pass, whatever an earlier run did.
            passed = self._checked.get(exercise_id, self.progress.has_passed(exercise_id))
            mark = "passed" if passed else "not passed yet"
            if not passed and self.progress.has_passed(exercise_id):
                mark += " in this run (it passed before)"
            lines.append(f"  {exercise_id}: {mark}")
        lines.append("course_overview() shows the whole course.")
        return Shown("\n".join(lines))

    def reset_button(self) -> ResetBar | None:
        """A two-step "reset this section" button, for sections with a workspace."""
        if self.workspace is None:
            return None
        start = widgets.Button(description="Reset this section…", icon="undo", layout={"width": "auto"})
        yes = widgets.Button(description="Yes, reset", button_style="danger")
        cancel = widgets.Button(description="Cancel")
        note = widgets.Label()
        yes.layout.display = cancel.layout.display = "none"

        def ask(_: Any) -> None:
            note.value = "Your files move to workspace/.backups/ and the section starts over. Sure?"
            yes.layout.display = cancel.layout.display = None

        def back(_: Any) -> None:
            note.value = ""
            yes.layout.display = cancel.layout.display = "none"

        def go(_: Any) -> None:
            back(None)
            note.value = self.reset(confirm=True).text

        start.on_click(ask)
        yes.on_click(go)
        cancel.on_click(back)
        return ResetBar([start, yes, cancel, note])


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
            f"✘ {str(broken).splitlines()[0]}\n  {_detail(broken)}\n"
            f"Now serving {what} instead; fix the file and run section.reload()."
        )
    else:
        if workspace is not None:
            workspace.remember_good()
    payment_client.reset()
    email_client.reset()
    section = Section(spec, lab, workspace)
    section.created = created
    section.problem = problem
    section._fallback = fallback_dir
    section.progress.opened(spec.id)
    magic.activate(section.cell)
    if show:
        _display(section)
    return section


def _what_happened_to_yours(file: str, written: Written, kind: Kind, *, comes_back: bool) -> list[str]:
    """One line each: the learner's definitions a write kept, saved before replacing, or put back."""
    lines: list[str] = []
    if written.kept:
        names = ", ".join(written.kept)
        if kind == "yours":
            lines.append(
                f"Kept your version of {names} (changed in the editor); "
                f"`%%handler {file} --force` replaces it, after a backup."
            )
        elif kind == "solution":
            lines.append(f"Kept your version of {names}: it passed its check. force=True replaces it, after a backup.")
        else:
            lines.append(
                f"Kept your version of {names} (not the exercise's starting code); "
                f"`%%handler {file} --force` replaces it, after a backup."
            )
    if written.backup is not None:
        saved = f"workspace/.backups/{written.backup.name}/"
        if kind == "course":
            later = " and comes back at its exercise" if comes_back else ""
            names = ", ".join(written.replaced_yours)
            lines.append(f"This demo replaced your version of {names}: it is saved in {saved}{later}.")
        else:
            lines.append(f"The previous version is saved in {saved}.")
    if written.restored:
        lines.append(f"Put back your version of {', '.join(written.restored)} (a demo cell above had replaced it).")
    return lines


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


def course_cells(spec: SectionSpec) -> dict[str, list[str]]:
    """Per workspace file, the cells the course writes there: its exercises' skeletons and its
    notebook's ``%%handler`` cells (read from the reference copy in ``notebooks/``)."""
    cells: dict[str, list[str]] = {}
    for exercise_id in spec.exercises:
        exercise = EXERCISES.get(exercise_id)
        if exercise is not None:
            cells.setdefault(exercise.file, []).append(exercise.skeleton)
    try:
        notebook = json.loads((PROJECT_ROOT / "notebooks" / f"{spec.notebook}.ipynb").read_text())
    except (OSError, ValueError):
        return cells
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        first, _, body = source.partition("\n")
        words = first.split()
        # An exercise cell counts only as its registered skeleton (above): where learners run the reference
        # notebooks themselves (Binder, the Docker image), the saved copy may hold their solution.
        tagged = "exercise" in cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and words[:1] == ["%%handler"] and len(words) > 1 and not tagged:
            cells.setdefault(words[1], []).append(body)
    return cells


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


def _shown(text: str) -> Shown:
    return Shown(text, "  \n".join(f"`{line}`" if line.startswith(" ") else line for line in text.splitlines()))


def _syntax_error(error: SyntaxError) -> str:
    """A syntax error of a ``%%handler`` cell at the cell's own line (the magic's line is line 1), with the caret."""
    lines = [f"✘ This cell has a syntax error on line {error.lineno} of the cell: {error.msg}"]
    if error.text:
        text = error.text.rstrip("\n")
        lines.append(f"    {text}")
        if error.offset:
            lines.append("    " + " " * (max(error.offset, 1) - 1) + "^")
    lines.append("Nothing was written; the code that was live keeps serving.")
    return "\n".join(lines)


def _seen(invocation: Invocation | None) -> str:
    """What Restate showed of an invocation, in a few words."""
    if invocation is None:
        return "no such invocation"
    words = f"{invocation.target}: {invocation.status}"
    if invocation.retry_count:
        words += f", {invocation.retry_count} attempt(s)"
    failure = invocation.last_failure or invocation.completion_failure
    if failure:
        words += f", {failure.splitlines()[0][:200]}"
    return words


def _missed(what: str, seen: str | None) -> None:
    """A wait that timed out: one ✘ line, shown, so the rest of the notebook still runs."""
    print(f"✘ {what}" + (f" (seen: {seen})." if seen else "."))  # noqa: T201 - notebook output


def _detail(error: Exception) -> str:
    lines = str(error).splitlines()
    return lines[1].strip() if len(lines) > 1 else ""


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
