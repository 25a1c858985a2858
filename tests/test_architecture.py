"""The package's shape: no import cycles, one public facade, an allow-list of private modules per subpackage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tourlab

pytestmark = pytest.mark.unit

PACKAGE = Path(tourlab.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import statement, lazy and TYPE_CHECKING ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _edges(module: str) -> set[str]:
    targets = set()
    for imported, names in _imports(MODULES[module]):
        if not imported.startswith("tourlab"):
            continue
        submodules = {f"{imported}.{name}" for name in names} & MODULES.keys()
        targets |= submodules or {imported}
        if submodules and set(names) - {name.rsplit(".", 1)[1] for name in submodules}:
            targets.add(imported)
    return targets - {module}


def test_no_import_cycles_inside_tourlab():
    graph = {module: _edges(module) for module in MODULES}
    cycles = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(" -> ".join([*path[path.index(module) :], module]))
            return
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


#: The private modules each subpackage may import; everything else comes from the ``tourlab`` facade.
PRIVATE_ALLOWED = {
    "tourlab.course": {"tourlab._client", "tourlab._config", "tourlab._model", "tourlab._runtimes"},
    "tourlab.hub": {"tourlab._config", "tourlab._ports"},
    "tourlab.panels": {"tourlab._client", "tourlab._config", "tourlab._model"},
}


def _subpackage(module: str) -> str | None:
    """``tourlab.course`` for ``tourlab.course.checks``; None for the core (``tourlab``, ``tourlab._*``)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and not parts[1].startswith("_") else None


def _private_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(private module, names) of every import of a ``tourlab._*`` module, ``from tourlab import _x`` included."""
    found = []
    for imported, names in _imports(path):
        if imported.startswith("tourlab._"):
            found.append((imported, names))
        elif imported == "tourlab":
            found += [(f"tourlab.{name}", []) for name in names if name.startswith("_")]
    return found


def test_every_subpackage_is_in_the_allow_list():
    assert {_subpackage(module) for module in MODULES} - {None} == PRIVATE_ALLOWED.keys()


def test_the_subpackages_import_only_allowed_private_modules():
    reaching_in = [
        f"{module} imports {imported}"
        for module, path in MODULES.items()
        if (subpackage := _subpackage(module)) is not None
        for imported, _names in _private_imports(path)
        if imported not in PRIVATE_ALLOWED[subpackage]
    ]
    assert reaching_in == []


def test_public_names_come_from_the_facade():
    """What ``tourlab.__all__`` lists is imported from ``tourlab`` outside the core, never from its module."""
    public = set(tourlab.__all__)
    around = [
        f"{module} imports {name} from {imported}"
        for module, path in MODULES.items()
        if _subpackage(module) is not None
        for imported, names in _private_imports(path)
        for name in names
        if name in public
    ]
    assert around == []


def test_no_private_name_is_imported_from_another_module():
    private = [
        f"{module} imports {name} from {imported}"
        for module, path in MODULES.items()
        for imported, names in _imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__") and f"{imported}.{name}" not in MODULES
    ]
    assert private == []


def test_everything_public_exists():
    assert sorted(tourlab.__all__) == sorted(set(tourlab.__all__))
    assert all(hasattr(tourlab, name) for name in tourlab.__all__)


#: One file by design: it is mounted into a hub pod on its own.
LONG_BY_DESIGN = {"tourlab.hub.gradebook"}
MAX_LINES = 450


def test_no_module_is_over_450_lines():
    long = {
        module: lines
        for module, path in MODULES.items()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES and module not in LONG_BY_DESIGN
    }
    assert long == {}


# -- exercises: each declared once, listed from the declarations --------------------------------------


def test_every_chapter_module_is_in_the_course_and_declares_each_exercise_once():
    from tourlab.course.exercises import CHAPTERS, EXERCISES

    chapters = {path.stem for path in (PACKAGE / "course" / "exercises").glob("ch*.py")}
    assert {chapter.__name__.rsplit(".", 1)[1] for chapter in CHAPTERS} == chapters
    declared = [exercise.id for chapter in CHAPTERS for exercise in chapter.DECLARED]
    assert declared == list(EXERCISES)  # a dict would hide a second declaration of an id
    for exercise in EXERCISES.values():
        assert (tourlab.PROJECT_ROOT / exercise.start_from).is_dir(), exercise.id
        assert (tourlab.PROJECT_ROOT / exercise.solution_from / exercise.file).is_file(), exercise.id


def test_a_declared_exercise_is_listed_by_its_section_and_the_gradebook(monkeypatch):
    from dataclasses import replace

    from tourlab.course import EXERCISES, SECTIONS, find_section
    from tourlab.hub import gradebook

    for exercise in EXERCISES.values():
        assert exercise.id in find_section(exercise.section).exercises
    assert sum(len(spec.exercises) for spec in SECTIONS) == len(EXERCISES)

    fake = replace(EXERCISES["reserve"], id="fake_exercise", section="02", title="A declared exercise")
    monkeypatch.setitem(EXERCISES, fake.id, fake)
    monkeypatch.delenv(gradebook.EXERCISES_ENV, raising=False)
    assert find_section("02").exercises == ("fake_exercise",)
    assert gradebook.ExerciseInfo("fake_exercise", "02", "A declared exercise") in gradebook.load_exercises()


def test_exercise_ids_are_spelled_out_only_in_their_declarations():
    from tourlab.course import EXERCISES

    declarations = PACKAGE / "course" / "exercises"
    listing = []
    for module, path in MODULES.items():
        if path.parent == declarations:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
                items = node.keys if isinstance(node, ast.Dict) else node.elts
                ids = [i.value for i in items if isinstance(i, ast.Constant) and i.value in EXERCISES]
                if len(ids) > 1:
                    listing.append(f"{module} line {node.lineno}: {ids}")
    assert listing == []
