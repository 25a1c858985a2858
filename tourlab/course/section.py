"""A course section: one notebook's lab, workspace, exercises and progress, behind one object."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from tour.auxiliary import email_client, payment_client
from tourlab import HandlerModuleError, Invocation, InvocationError, Lab, LabError, Reloaded, poll
from tourlab.course import magic
from tourlab.course.checks import CheckResult, error_hint, markdown_text, run_check
from tourlab.course.exercises import Exercise, find_exercise
from tourlab.course.progress import Progress
from tourlab.course.report import report_check
from tourlab.course.sections import SectionSpec, find_section
from tourlab.course.views import Shown, invocations_view, journal_view
from tourlab.course.workspace import Workspace, Written


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
        self.progress = Progress()
        self._hints_shown: dict[str, int] = {}

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
        except HandlerModuleError as broken:
            return f"✘ {broken}"
        new = [f"{service}/{handler}" for service, handlers in after.items() for handler in handlers]
        added = [name for name in new if name.split("/")[1] not in before.get(name.split("/")[0], [])]
        live = f"Live: {', '.join(after)}"
        return f"{live} (new: {', '.join(added)})" if before and added else live

    def reload(self) -> Shown:
        """Reload the workspace (after edits in the editor) and say what is live."""
        return Shown(self._serve_line())

    def write(self, file: str, code: str, force: bool = False) -> Shown:
        """Put `code` (imports and definitions) into a workspace file, reload and re-register.

        Definitions changed in the editor since the course last wrote them are kept (the output
        says which); ``force`` overwrites them after a backup.
        """
        workspace = self._require_workspace()
        written: Written = workspace.write(file, code, force=force)
        lines = [f"{file}: {written.summary}"]
        if written.kept:
            lines.append(
                f"Kept your version of {', '.join(written.kept)} (changed in the editor); "
                f"`%%handler {file} --force` replaces it, after a backup."
            )
        if written.backup is not None:
            lines.append(f"The previous version is saved in workspace/.backups/{written.backup.name}/.")
        lines.append(self._serve_line())
        return Shown("\n".join(lines), "  \n".join(lines))

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

    def wait_for_retries(self, invocation_id: str, retries: int, *, timeout: float = 20.0) -> Invocation:
        """Wait until Restate has retried a failing invocation `retries` times and is backing off."""
        polled = poll(
            lambda: self.lab.invocation(invocation_id),
            lambda seen: seen is not None and seen.retry_count >= retries and seen.status == "backing-off",
            timeout=timeout,
        )
        if polled.value is None or not polled.ok:
            raise InvocationError(
                f"{invocation_id} was not retried {retries} times within {timeout:g} s (last seen: {polled.value})."
            )
        return polled.value

    def wait_for_target(self, target: str, *statuses: str, timeout: float = 15.0) -> Invocation:
        """Wait until an invocation of `target` (``Svc/key/handler``) exists and reaches a status
        (default: completed). Useful for invocations that a handler started with a message."""
        wanted = statuses or ("completed",)

        def reached() -> list[Invocation]:
            found = self.lab.invocations(target=target, limit=100)
            return [i for i in found if i.target == target and i.status in wanted]

        polled = poll(reached, timeout=timeout)
        if not polled.ok:
            raise InvocationError(f"No invocation of {target} reached {', '.join(wanted)} within {timeout:g} s.")
        return polled.value[0]

    def wait_for_count(self, target: str, count: int, status: str, *, timeout: float = 10.0) -> list[Invocation]:
        """Wait until `count` invocations of `target` are in `status` (Restate's tables lag by a few ms)."""
        polled = poll(
            lambda: [i for i in self.lab.invocations(target=target, limit=100) if i.status == status],
            lambda found: len(found) >= count,
            timeout=timeout,
        )
        if not polled.ok:
            raise InvocationError(
                f"Only {len(polled.value)} invocation(s) of {target} are {status!r} after {timeout:g} s."
            )
        return polled.value

    def wait_until_waiting(self, invocation_id: str, what: str, *, timeout: float = 10.0) -> str:
        """Wait until what an invocation waits for (``lab.waiting_for``'s words) mentions `what`,
        e.g. "promise 'payment'"; returns those words."""
        polled = poll(lambda: self.lab.waiting_for(invocation_id), lambda seen: what in (seen or ""), timeout=timeout)
        if not polled.ok or polled.value is None:
            raise InvocationError(
                f"{invocation_id} was not waiting for {what} within {timeout:g} s (it waits for: {polled.value})."
            )
        return polled.value

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
        return Shown(f"Now serving the reference code in {checkpoint}/.\n{self._serve_line(checkpoint)}")

    # -- exercises ---------------------------------------------------------------------------

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
        except HandlerModuleError as broken:
            problem = f"{str(broken).splitlines()[0]} {_detail(broken)} (so nothing was checked)"
            result = CheckResult(
                exercise,
                problem=problem,
                hint=error_hint(str(broken)) or "Fix that line (the message says what Python did not like).",
                serving=f"Still serving: the last version of your workspace ({where}) that loaded, not this one.",
            )
        else:
            result = run_check(exercise_id, self.lab)
            result.serving = f"Now serving: your workspace ({where}), the code this check tested."
        self.progress.checked(exercise_id, passed=result.ok, problem=result.problem)
        report_check(exercise_id, self.spec.id, result.ok, result.problem)
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
        """Write the reference solution of an exercise into your workspace."""
        exercise = self._exercise(exercise_id)
        return self.write(exercise.file, exercise.solution, force=force)

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
            lines.append(f"Your code: `{workspace.display_path}` ({state}), now live.")
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
            mark = "passed" if self.progress.has_passed(exercise_id) else "not passed yet"
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


def open_section(
    name: str, *, fresh: bool = True, lab: Lab | None = None, show: bool = True, always_replay: bool = False
) -> Section:
    """Start (or restart) the lab for a notebook and make its workspace live.

    With ``fresh`` (the default) this kernel's Restate starts over with no state and no
    invocations, so the notebook gives the same results every time it runs from the top.
    ``always_replay`` starts Restate so that every await suspends and replays the handler
    (see ``Lab.start``). Your workspace files are never touched: they are created only if missing.
    """
    spec = find_section(name)
    if _in_notebook():
        _quiet_shell_commands()
    workspace = None
    if spec.start_from is not None:
        workspace = Workspace(spec.workspace_name, start_from=spec.start_from)
    created = workspace.ensure() if workspace is not None else False
    app_dir: str | Path = workspace.path if workspace is not None else spec.app
    if lab is None:
        current = Lab.current()
        if current is not None and fresh:
            current.stop()
        lab = Lab.start(app_dir, always_replay=always_replay)
    else:
        lab.load(app_dir)
    payment_client.reset()
    email_client.reset()
    section = Section(spec, lab, workspace)
    section.created = created
    section.progress.opened(spec.id)
    magic.activate(section.write)
    if show:
        _display(section)
    return section


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
