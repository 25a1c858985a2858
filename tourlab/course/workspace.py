"""The learner's copy of the tour app for one section, which re-running a notebook never clobbers.

A workspace is a package folder ``workspace/<name>/`` copied from a reference checkpoint such
as ``tour/part1``. Imports between its modules are rewritten to relative ones so the copy runs
on its own. A definition is the course's when its text is one the course wrote (the starting
checkpoint's, a course cell's, a skeleton's); any other text is the learner's, and the course
never replaces it without a backup and a line saying so:

- the learner's own cells keep a definition changed in the editor since (``--force`` replaces it);
- an exercise's skeleton cell keeps the learner's version, and puts back one a demo displaced;
- a demo cell of the course installs its code, after backing up the learner's version.

The folder also remembers the last version of its files that loaded (``last_good``), which the
course serves when a saved typo keeps the workspace from loading.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tourlab import PROJECT_ROOT, LabError
from tourlab.course import edit

#: Bookkeeping file inside every workspace folder.
RECORD = ".course.json"


def workspace_root() -> Path:
    """Where section workspaces live: ``$TOURLAB_WORKSPACE`` or ``workspace/`` in the project."""
    override = os.environ.get("TOURLAB_WORKSPACE")
    return Path(override) if override else PROJECT_ROOT / "workspace"


def package_of(folder: str) -> str:
    """The import name of a project folder: ``tour/part1`` -> ``tour.part1``."""
    return folder.strip("/").replace("/", ".")


def relative_imports(source: str, package: str) -> str:
    """Imports from `package` made relative: ``from tour.part1.ticket_object import x`` -> ``from .ticket_object ...``.

    Imports of other packages (``tour.auxiliary``, shared helpers) stay as they are.
    """
    return re.sub(rf"^from {re.escape(package)}\.", "from .", source, flags=re.MULTILINE)


#: Who a write comes from: the learner's own cell, a demo cell of the course, an exercise's skeleton,
#: the reference solution (``apply_solution``: the learner's choice, so the written text is theirs).
Kind = Literal["yours", "course", "skeleton", "solution"]


class WorkspaceFileError(LabError):
    """A workspace file does not parse, so a cell cannot be spliced into it."""


@dataclass(frozen=True)
class Written:
    """What a write into the workspace did.

    `kept` are the learner's definitions it left alone, `replaced_yours` the learner's ones it
    replaced after the `backup`, `restored` the learner's ones it put back where a demo had
    replaced them.
    """

    file: str
    summary: str
    backup: Path | None = None
    kept: tuple[str, ...] = ()
    replaced_yours: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()


class Workspace:
    """One section's editable copy of the tour app.

    >>> ws = Workspace("s02_durable_execution", start_from="tour/part1")
    >>> ws.ensure()          # copies tour/part1 only if the folder does not exist yet
    >>> ws.write("cart_object.py", cell_source)
    """

    def __init__(
        self,
        name: str,
        *,
        start_from: str,
        root: Path | None = None,
        course_cells: dict[str, list[str]] | None = None,
    ) -> None:
        self.name = name
        self.start_from = start_from
        self.root = root or workspace_root()
        self.path = self.root / name
        #: Per file, the cells the course itself writes there (its notebook's and its skeletons).
        self.course_cells = course_cells or {}

    # -- creation and reset ------------------------------------------------------------------

    @property
    def source_dir(self) -> Path:
        return PROJECT_ROOT / self.start_from

    @property
    def display_path(self) -> str:
        """The folder as the learner finds it in the file browser."""
        return f"workspace/{self.name}/"

    def exists(self) -> bool:
        """Whether the folder is there (even half-empty: then it is the learner's to fix or reset)."""
        return self.path.is_dir()

    def ensure(self) -> bool:
        """Create the workspace from its starting point if it is missing; True if it was created."""
        if self.exists():
            return False
        self._prepare_root()
        self.path.mkdir(parents=True, exist_ok=True)
        written = {}
        for file, text in self.starting_files().items():
            (self.path / file).write_text(text)
            written[file] = edit.definitions(text)
        self._save_record({"start_from": self.start_from, "created_at": time.time(), "written": written})
        return True

    def starting_files(self) -> dict[str, str]:
        """The modules of the starting checkpoint, imports made relative, by file name."""
        package = package_of(self.start_from)
        return {p.name: relative_imports(p.read_text(), package) for p in sorted(self.source_dir.glob("*.py"))}

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Learner workspaces: personal, never committed.\n*\n")
        marker = self.root / "__init__.py"
        if not marker.exists():
            marker.write_text('"""Learner workspaces, one package per course section."""\n')

    def backup(self) -> Path:
        """Copy the whole workspace to ``workspace/.backups/<name>-<time>/`` and return that folder."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.root / ".backups" / f"{self.name}-{stamp}"
        suffix = 1
        while target.exists():
            suffix += 1
            target = self.root / ".backups" / f"{self.name}-{stamp}-{suffix}"
        shutil.copytree(self.path, target, ignore=shutil.ignore_patterns("__pycache__"))
        return target

    def reset(self) -> Path | None:
        """Put the section back to its starting point; the old files go to a backup folder first."""
        saved = self.backup() if self.exists() else None
        if self.path.exists():
            shutil.rmtree(self.path)
        self.ensure()
        return saved

    # -- files -----------------------------------------------------------------------------

    def files(self) -> list[str]:
        return sorted(p.name for p in self.path.glob("*.py"))

    def read(self, file: str) -> str:
        return (self.path / file).read_text()

    def _check_file(self, file: str) -> Path:
        """The workspace file `file`; a new module (a valid name) is created empty."""
        target = self.path / file
        if not re.fullmatch(r"[A-Za-z_]\w*\.py", file):
            known = ", ".join(self.files())
            raise LabError(
                f"{file!r} is not a module of {self.display_path} (a name like cart_object.py); it has: {known}"
            )
        if not target.exists():
            target.write_text("")
        return target

    def _definitions(self, file: str) -> dict[str, str]:
        """The definitions of `file`; a file that does not parse is named with its line."""
        try:
            return edit.definitions(self.read(file))
        except SyntaxError as error:
            raise WorkspaceFileError(
                f"{self.display_path}{file}, line {error.lineno}: SyntaxError: {error.msg}"
            ) from error

    def changed_elsewhere(self, file: str, names: list[str] | None = None) -> list[str]:
        """Definitions of `file` that differ from what the course itself last wrote there."""
        current = self._definitions(file)
        recorded = self._record().get("written", {}).get(file)
        if recorded is None:
            return []
        candidates = names if names is not None else sorted(set(current) | set(recorded))
        return [n for n in candidates if current.get(n) != recorded.get(n)]

    def course_versions(self, file: str) -> dict[str, set[str]]:
        """Per definition of `file`, every text of it that is the course's rather than the learner's."""
        versions: dict[str, set[str]] = {}

        def add(found: dict[str, str]) -> None:
            for name, text in found.items():
                versions.setdefault(name, set()).add(text)

        for cell in self.course_cells.get(file, []):
            try:
                add(edit.definitions(cell))
            except SyntaxError:
                continue
        wrote = self._record().get("course", {}).get(file, {})
        for name, texts in wrote.items():
            versions.setdefault(name, set()).update(texts)
        # The starting checkpoint's text counts until a cell of the course wrote that definition:
        # afterwards the same text is the learner's (typed or pasted back, e.g. a solved exercise).
        start = self.source_dir / file
        if start.is_file():
            starting = edit.definitions(relative_imports(start.read_text(), package_of(self.start_from)))
            add({name: text for name, text in starting.items() if name not in wrote})
        return versions

    def yours(self, file: str) -> list[str]:
        """Definitions of `file` whose text is the learner's: none of the course's versions of it."""
        current = self._definitions(file)
        course = self.course_versions(file)
        return [name for name, text in current.items() if text not in course.get(name, set())]

    def write(self, file: str, cell: str, *, force: bool = False, kind: Kind = "yours") -> Written:
        """Splice a cell's definitions into `file`, by the rules of its `kind` (see the module's docstring)."""
        target = self._check_file(file)
        _, defs, _ = edit.parse_cell(cell)
        names = [n for n in (edit.definition_name(d) for d in defs) if n is not None]
        before = self._definitions(file)
        record = self._record()
        displaced: dict[str, str] = record.get("displaced", {}).get(file, {})
        restore: dict[str, str] = {}
        incoming = edit.definitions(cell)
        if kind == "yours":
            clashes = self.changed_elsewhere(file, names)
            kept = () if force else tuple(clashes)
            # A version that passed its check is saved before the learner's own cell replaces it.
            passed = self._passed(file)
            solved = [n for n in names if n not in kept and passed.get(n) == before.get(n) != incoming.get(n)]
            replaced_yours: tuple[str, ...] = tuple(clashes if force else ()) + tuple(solved)
        else:
            mine = [n for n in self.yours(file) if n in names and before[n] != incoming.get(n)]
            if kind == "skeleton":
                kept = () if force else tuple(mine)
            elif kind == "solution":
                passed = self._passed(file)
                kept = () if force else tuple(n for n in mine if passed.get(n) == before[n])
            else:
                kept = ()
            replaced_yours = tuple(n for n in mine if n not in kept)
            if kind == "skeleton":
                restore = {n: displaced[n] for n in names if n in displaced and n not in kept and n not in mine}
        backup = self.backup() if replaced_yours else None
        text = edit.without(cell, set(kept) | set(restore))
        result = edit.splice(target.read_text(), text)
        for learners in restore.values():
            result.text = edit.splice(result.text, learners).text
        target.write_text(result.text)
        now = edit.definitions(result.text)
        written = {name: now[name] for name in names if name in now and name not in kept}
        self._remember(file, written, course=kind in ("course", "skeleton"), restored=set(restore))
        if kind == "course" and replaced_yours:
            self._displace(file, {name: before[name] for name in replaced_yours})
        if kind == "skeleton":
            self._displace(file, {}, drop=set(names))
        summary = result.summary
        if restore:
            back = "put back " + ", ".join(restore)
            summary = back if summary == "nothing to change" else f"{summary}; {back}"
        return Written(
            file=file,
            summary=summary,
            backup=backup,
            kept=kept,
            replaced_yours=replaced_yours,
            restored=tuple(restore),
        )

    def edited_elsewhere(self) -> dict[str, list[str]]:
        """Per file, the learner's definitions (changed outside the course's cells); unparsable files are skipped."""
        changed = {}
        for file in self.files():
            try:
                changed[file] = self.yours(file)
            except WorkspaceFileError:
                continue
        return {file: names for file, names in changed.items() if names}

    def remember_good(self) -> None:
        """Note the files as they are now, a version that loaded (served again if a later one does not)."""
        record = self._record()
        record["last_good"] = {file: self.read(file) for file in self.files()}
        self._save_record(record)

    def last_good(self) -> dict[str, str]:
        """The files of the last version that loaded (empty if none did yet)."""
        return dict(self._record().get("last_good", {}))

    # -- bookkeeping -------------------------------------------------------------------------

    def _record(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path / RECORD).read_text()))
        except (OSError, ValueError):
            return {}

    def _save_record(self, record: dict[str, Any]) -> None:
        (self.path / RECORD).write_text(json.dumps(record, indent=1))

    def _remember(self, file: str, sources: dict[str, str], *, course: bool, restored: set[str]) -> None:
        """Note the definitions the course put into `file` (and, for its own cells, that they are the course's)."""
        record = self._record()
        written = record.setdefault("written", {})
        written[file] = {**written.get(file, {}), **sources}
        if course:
            known = record.setdefault("course", {}).setdefault(file, {})
            for name, text in sources.items():
                if name not in restored and text not in known.setdefault(name, []):
                    known[name].append(text)
        self._save_record(record)

    def _displace(self, file: str, learners: dict[str, str], *, drop: Collection[str] = ()) -> None:
        """Keep the learner's definitions a demo replaced (their exercise's skeleton cell puts them back)."""
        record = self._record()
        displaced = record.setdefault("displaced", {}).setdefault(file, {})
        for name in drop:
            displaced.pop(name, None)
        displaced.update(learners)
        self._save_record(record)

    def remember_passed(self, file: str, names: Collection[str]) -> None:
        """Note the learner's definitions that just passed their check (a solution is not replaced without force)."""
        record = self._record()
        current = self._definitions(file)
        passed = record.setdefault("passed", {}).setdefault(file, {})
        passed.update({name: current[name] for name in names if name in current})
        self._save_record(record)

    def _passed(self, file: str) -> dict[str, str]:
        return dict(self._record().get("passed", {}).get(file, {}))
