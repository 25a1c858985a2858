"""A course section: one notebook's lab, workspace, exercises and progress, behind one object."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from tourlab import (
    HandlerModuleError,
    Lab,
    LabError,
    RegistrationError,
    Reloaded,
)
from tourlab.course import edit
from tourlab.course.cells import syntax_error_text, what_happened_to_yours
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
from tourlab.course.sections import SectionSpec
from tourlab.course.views import Shown, invocations_view, journal_view
from tourlab.course.waits import Waits
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


class Section(Waits):
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
            return _shown(syntax_error_text(error))
        except edit.CellSourceError as error:
            return _shown(f"✘ {error}\nNothing was written; the code that was live keeps serving.")
        except WorkspaceFileError as error:
            lines = [f"✘ {error}", "Your file was not changed: fix that line in the editor, then section.reload()."]
            lines.extend(self._also_in_fallback(file, code, kind))
            return _shown("\n".join(lines))
        exercised = {f for e in self._exercises() if e.file == file for f in e.functions}
        comes_back = bool(set(written.replaced_yours) & exercised)
        lines = [f"{file}: {written.summary}", *what_happened_to_yours(file, written, kind, comes_back=comes_back)]
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
            problem = f"{str(broken).splitlines()[0]} {error_detail(broken)} (so nothing was checked)"
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
        # Buttons keep their width (a long note wraps onto its own line instead of squeezing them).
        fixed = {"width": "auto", "flex": "0 0 auto"}
        start = widgets.Button(description="Reset this section…", icon="undo", layout=fixed)
        yes = widgets.Button(description="Yes, reset", button_style="danger", layout=fixed)
        cancel = widgets.Button(description="Cancel", layout=fixed)
        note = widgets.HTML(layout={"flex": "1 1 300px", "min_width": "0"})
        yes.layout.display = cancel.layout.display = "none"

        def ask(_: Any) -> None:
            note.value = "Your files move to workspace/.backups/ and the section starts over. Sure?"
            yes.layout.display = cancel.layout.display = None

        def back(_: Any) -> None:
            note.value = ""
            yes.layout.display = cancel.layout.display = "none"

        def go(_: Any) -> None:
            back(None)
            note.value = html.escape(self.reset(confirm=True).text).replace("\n", "<br>")

        start.on_click(ask)
        yes.on_click(go)
        cancel.on_click(back)
        return ResetBar([start, yes, cancel, note], layout={"flex_flow": "row wrap", "align_items": "center"})


def _shown(text: str) -> Shown:
    return Shown(text, "  \n".join(f"`{line}`" if line.startswith(" ") else line for line in text.splitlines()))


def error_detail(error: Exception) -> str:
    """The second line of a load error: where it broke."""
    lines = str(error).splitlines()
    return lines[1].strip() if len(lines) > 1 else ""
