"""The learner's copy of the tour app for one section, which re-running a notebook never clobbers.

A workspace is a package folder ``workspace/<name>/`` copied from a reference checkpoint such
as ``tour/part1``. Imports between its modules are rewritten to relative ones so the copy runs
on its own. The folder also remembers what the course itself last wrote to each file; when a
definition was changed elsewhere (in the JupyterLab editor), a notebook cell keeps the
learner's version of it (and says so) unless asked to overwrite it with ``--force``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Written:
    """What a write into the workspace did; `kept` are the learner's definitions it left alone."""

    file: str
    summary: str
    backup: Path | None = None
    kept: tuple[str, ...] = ()


class Workspace:
    """One section's editable copy of the tour app.

    >>> ws = Workspace("s02_durable_execution", start_from="tour/part1")
    >>> ws.ensure()          # copies tour/part1 only if the folder does not exist yet
    >>> ws.write("cart_object.py", cell_source)
    """

    def __init__(self, name: str, *, start_from: str, root: Path | None = None) -> None:
        self.name = name
        self.start_from = start_from
        self.root = root or workspace_root()
        self.path = self.root / name

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
        for source in sorted(self.source_dir.glob("*.py")):
            text = relative_imports(source.read_text(), package_of(self.start_from))
            (self.path / source.name).write_text(text)
            written[source.name] = edit.definitions(text)
        self._save_record({"start_from": self.start_from, "created_at": time.time(), "written": written})
        return True

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

    def changed_elsewhere(self, file: str, names: list[str] | None = None) -> list[str]:
        """Definitions of `file` that differ from what the course itself last wrote there."""
        current = edit.definitions(self.read(file))
        recorded = self._record().get("written", {}).get(file)
        if recorded is None:
            return []
        candidates = names if names is not None else sorted(set(current) | set(recorded))
        return [n for n in candidates if current.get(n) != recorded.get(n)]

    def write(self, file: str, cell: str, *, force: bool = False) -> Written:
        """Splice a cell's definitions into `file`; definitions edited elsewhere are kept unless `force`."""
        target = self._check_file(file)
        _, defs, _ = edit.parse_cell(cell)
        names = [n for n in (edit.definition_name(d) for d in defs) if n is not None]
        clashes = self.changed_elsewhere(file, names)
        backup = self.backup() if clashes and force else None
        kept = () if force else tuple(clashes)
        result = edit.splice(target.read_text(), edit.without(cell, set(kept)))
        target.write_text(result.text)
        now = edit.definitions(result.text)
        self._remember(file, {name: now[name] for name in names if name in now and name not in kept})
        return Written(file=file, summary=result.summary, backup=backup, kept=kept)

    def edited_elsewhere(self) -> dict[str, list[str]]:
        """Per file, the definitions changed outside the notebook (in the editor)."""
        changed = {file: self.changed_elsewhere(file) for file in self.files()}
        return {file: names for file, names in changed.items() if names}

    # -- bookkeeping -------------------------------------------------------------------------

    def _record(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path / RECORD).read_text()))
        except (OSError, ValueError):
            return {}

    def _save_record(self, record: dict[str, Any]) -> None:
        (self.path / RECORD).write_text(json.dumps(record, indent=1))

    def _remember(self, file: str, sources: dict[str, str]) -> None:
        """Note the definitions the course itself put into `file`."""
        record = self._record()
        written = record.setdefault("written", {})
        written[file] = {**written.get(file, {}), **sources}
        self._save_record(record)
