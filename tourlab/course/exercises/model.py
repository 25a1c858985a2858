"""What an exercise is (declared once, in its chapter's module) and what its check shows.

Solutions are not copied into the declarations: they are cut out of the reference checkpoint
(``tour/partN``) so that the course and the reference app can never disagree.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tourlab import PROJECT_ROOT
from tourlab.course import edit
from tourlab.course.workspace import package_of, relative_imports

if TYPE_CHECKING:
    from tourlab.course.exercises.probe import Probe


@dataclass(frozen=True)
class Exercise:
    """One "Try it out" task of a section: where it lives, how it starts, its hints and its check."""

    id: str
    #: The section (``SectionSpec.id``) whose notebook holds it; the section's list comes from here.
    section: str
    title: str
    #: The workspace file the learner's ``%%handler`` cell goes into.
    file: str
    #: The functions of `file` the exercise is about (the skeleton's and the solution's).
    functions: tuple[str, ...]
    #: The code the exercise starts from once the section's earlier steps are done: the workspace
    #: the tests write a candidate into (``tests/solutions/<id>/``).
    start_from: str
    #: The reference checkpoint the solution is cut out of.
    solution_from: str
    skeleton: str
    #: Layered hints: concept, then API, then code.
    hints: tuple[str, ...]
    #: The behaviour check: drives the learner's handlers through `Probe`, fails at the first thing that is off.
    check: Callable[[Probe], None] = field(repr=False, compare=False)

    @property
    def solution(self) -> str:
        """The reference code for this exercise, as a cell for ``%%handler``."""
        return extract(PROJECT_ROOT / self.solution_from / self.file, self.functions)


def _used_names(nodes: list[ast.stmt]) -> set[str]:
    used: set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                used.add(sub.id)
    return used


def extract(path: Path, functions: tuple[str, ...]) -> str:
    """The named functions of a module plus the imports and constants they use, as one cell."""
    text = path.read_text()
    tree = ast.parse(text)
    package = package_of(str(path.parent.relative_to(PROJECT_ROOT)))
    lines = text.splitlines(keepends=True)
    wanted = [n for n in tree.body if edit.definition_name(n) in functions]
    used = _used_names(wanted)
    imports: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names = [a for a in node.names if (a.asname or a.name) in used]
            if names and not (node.module == "restate" and node.level == 0 and _only_types(names)):
                merged = ast.ImportFrom(module=node.module, names=names, level=node.level)
                imports.append(relative_imports(ast.unparse(merged), package))
        elif isinstance(node, ast.Import) and any((a.asname or a.name) in used for a in node.names):
            imports.append(ast.unparse(node))
    constants = [
        "".join(lines[n.lineno - 1 : n.end_lineno])
        for n in tree.body
        if isinstance(n, ast.Assign | ast.AnnAssign)
        and edit.definition_name(n) in used
        and edit.definition_name(n) not in functions
        and not _is_service_object(n)
    ]
    bodies = [edit.definitions(text)[edit.definition_name(n) or ""] for n in wanted]
    parts = []
    if imports:
        parts.append("\n".join(imports) + "\n")
    if constants:
        parts.append("".join(constants))
    parts.append("\n\n".join(bodies))
    return "\n\n".join(p.strip("\n") + "\n" for p in parts)


def _only_types(names: list[ast.alias]) -> bool:
    # The context classes are imported at the top of every module already.
    return all(a.name in {"Context", "ObjectContext"} for a in names)


def _is_service_object(node: ast.stmt) -> bool:
    value = getattr(node, "value", None)
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr
        in {
            "Service",
            "VirtualObject",
            "Workflow",
        }
    )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&#|~])")


def markdown_text(text: str) -> str:
    """`text` as Markdown that shows exactly these characters (``<key>`` stays, ``_`` is no emphasis)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


@dataclass
class CheckResult:
    """The outcome of one check: what passed, the first thing that did not, a hint for it, what is live."""

    exercise: Exercise
    passed: list[str] = field(default_factory=list)
    problem: str | None = None
    hint: str | None = None
    #: Which code Restate serves after the check (set by ``Section.check``).
    serving: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def _help(self) -> tuple[str, str]:
        exercise_id = self.exercise.id
        return f'section.hint("{exercise_id}")', f'section.solution("{exercise_id}")'

    def _lines(self) -> list[str]:
        title = self.exercise.title
        head = f"PASSED  {title}" if self.ok else f"NOT YET  {title}"
        lines = [head, *(f"  [ok]   {claim}" for claim in self.passed)]
        if self.problem is not None:
            more, answer = self._help()
            lines.append(f"  [fail] {self.problem}")
            lines.append(f"Hint: {self.hint or self.exercise.hints[0]}")
            lines.append(f"More hints: {more}   The answer: {answer}")
        if self.serving:
            lines.append(self.serving)
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_markdown_(self) -> str:
        mark = "✔ **Passed**" if self.ok else "✘ **Not yet**"
        lines = [f"{mark}: {markdown_text(self.exercise.title)}", ""]
        lines += [f"- ✔ {markdown_text(claim)}" for claim in self.passed]
        if self.problem is not None:
            more, answer = self._help()
            lines.append(f"- ✘ {markdown_text(self.problem)}")
            lines += [
                "",
                f"**Hint:** {markdown_text(self.hint or self.exercise.hints[0])}",
                "",
                f"More hints: `{more}` · the answer: `{answer}`",
            ]
        if self.serving:
            lines += ["", markdown_text(self.serving)]
        return "\n".join(lines)
