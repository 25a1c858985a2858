"""The package's shape: no import cycles, one public facade, no private names across modules."""

from __future__ import annotations

import ast
from pathlib import Path

import tourlab

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


def test_the_subpackages_use_only_the_public_facade():
    reaching_in = [
        f"{module} imports {imported}"
        for module in MODULES
        if not module.split(".")[1:2] or not module.split(".")[1].startswith("_")
        if module != "tourlab"
        for imported, _names in _imports(MODULES[module])
        if imported.startswith("tourlab._")
    ]
    assert reaching_in == []


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
