"""Splice a notebook cell's definitions into a handler module, keeping everything else as it is.

A cell holds imports plus top-level functions, classes or simple assignments. Each definition
replaces the one with the same name in the module (decorators included) or is added if new;
imports are merged into the module's own import block.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from tourlab import LabError

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign


class CellSourceError(LabError):
    """The cell holds something other than imports and top-level definitions."""


@dataclass
class Splice:
    """The module text after a splice and what changed."""

    text: str
    replaced: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    imports_added: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = []
        if self.replaced:
            parts.append("replaced " + ", ".join(self.replaced))
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.imports_added:
            parts.append("imported " + ", ".join(self.imports_added))
        return "; ".join(parts) or "nothing to change"


def definition_name(node: ast.stmt) -> str | None:
    """The name a top-level statement defines, if it defines exactly one."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def _start_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(int(d.lineno) for d in decorators)])


def _segment(lines: list[str], node: ast.stmt) -> str:
    assert node.end_lineno is not None
    return "".join(lines[_start_line(node) - 1 : node.end_lineno]).rstrip() + "\n"


def definitions(text: str) -> dict[str, str]:
    """Source of every top-level definition of a module, by name."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    found = {}
    for node in tree.body:
        name = definition_name(node)
        if name is not None:
            found[name] = _segment(lines, node)
    return found


def _import_key(node: ast.Import | ast.ImportFrom) -> tuple[str, int] | None:
    return (node.module or "", node.level) if isinstance(node, ast.ImportFrom) else None


def _import_text(node: ast.ImportFrom, names: list[ast.alias]) -> str:
    merged = ast.ImportFrom(module=node.module, names=names, level=node.level)
    return ast.unparse(merged) + "\n"


def _alias_text(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def parse_cell(cell: str) -> tuple[list[ast.Import | ast.ImportFrom], list[Definition], list[str]]:
    """Split a cell into its imports and its definitions; reject anything else."""
    tree = ast.parse(cell)
    lines = cell.splitlines(keepends=True)
    imports: list[ast.Import | ast.ImportFrom] = []
    defs: list[Definition] = []
    sources: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif definition_name(node) is not None:
            defs.append(node)  # type: ignore[arg-type]
            sources.append(_segment(lines, node))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a stray string: nothing to write
        else:
            raise CellSourceError(
                f"Line {node.lineno}: a handler cell may only hold imports and top-level functions, "
                "classes or assignments. Run other code in a normal cell."
            )
    return imports, defs, sources


def without(cell: str, names: set[str]) -> str:
    """The cell with the definitions called `names` left out (imports and the rest kept)."""
    tree = ast.parse(cell)
    lines = cell.splitlines(keepends=True)
    dropped = [node for node in tree.body if definition_name(node) in names]
    for node in sorted(dropped, key=_start_line, reverse=True):
        assert node.end_lineno is not None
        del lines[_start_line(node) - 1 : node.end_lineno]
    return "".join(lines)


def _merge_imports(
    module_imports: list[ast.Import | ast.ImportFrom],
    imports: list[ast.Import | ast.ImportFrom],
    result: Splice,
) -> tuple[list[tuple[int, int, str]], list[str]]:
    """Edits that widen existing ``from x import ...`` lines, and the import lines to add."""
    edits: list[tuple[int, int, str]] = []
    new_import_lines: list[str] = []
    for node in imports:
        key = _import_key(node)
        twin = next((m for m in module_imports if isinstance(m, ast.ImportFrom) and _import_key(m) == key), None)
        if isinstance(node, ast.ImportFrom) and isinstance(twin, ast.ImportFrom):
            have = {_alias_text(a) for a in twin.names}
            missing = [a for a in node.names if _alias_text(a) not in have]
            if missing:
                names = sorted([*twin.names, *missing], key=lambda a: a.name.lower())
                edits.append((twin.lineno, twin.end_lineno or twin.lineno, _import_text(twin, names)))
                result.imports_added += [_alias_text(a) for a in missing]
            continue
        if all(ast.unparse(m) != ast.unparse(node) for m in module_imports):
            new_import_lines.append(ast.unparse(node) + "\n")
            result.imports_added += [_alias_text(a) for a in node.names]
    return edits, new_import_lines


def _names_in(node: ast.stmt) -> set[str]:
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}


def splice(module_text: str, cell: str) -> Splice:
    """Put the cell's imports and definitions into the module text."""
    imports, defs, sources = parse_cell(cell)
    tree = ast.parse(module_text)
    lines = module_text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    result = Splice(text=module_text)

    # (start line, end line, replacement text); line numbers are 1-based and inclusive.
    module_imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    edits, new_import_lines = _merge_imports(module_imports, imports, result)
    last_import_end = max((n.end_lineno or n.lineno for n in module_imports), default=0)

    existing = {definition_name(n): n for n in tree.body if definition_name(n) is not None}
    first_def_line = next(
        (_start_line(n) for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)),
        len(lines) + 1,
    )
    # A new class or constant goes before the first definition that uses it (an annotation is
    # evaluated when its function is defined); a new constant goes at least before the functions.
    inserted: dict[int, list[str]] = {}
    appended: list[str] = []
    replacing = {definition_name(node): node for node in defs}
    uses = {  # names each top-level statement of the result refers to (a replaced one: its new version)
        id(n): _names_in(replacing.get(definition_name(n)) or n) for n in tree.body if n not in module_imports
    }
    for node, source in zip(defs, sources, strict=True):
        name = definition_name(node)
        assert name is not None
        if name in existing:
            old = existing[name]
            edits.append((_start_line(old), old.end_lineno or old.lineno, source))
            result.replaced.append(name)
            continue
        result.added.append(name)
        user = next((n for n in tree.body if name in uses.get(id(n), ())), None)
        line = _start_line(user) if user is not None else None
        if isinstance(node, ast.Assign | ast.AnnAssign):
            line = min(line or first_def_line, first_def_line)
        if line is None or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            appended.append(source)
        else:
            inserted.setdefault(max(line, last_import_end + 1), []).append(source)

    # Edits at the same place: imports first (they are applied last), then the inserted definitions.
    ordered = [(start, end, 1, text) for start, end, text in edits]
    for line, found in inserted.items():
        after_imports = line == last_import_end + 1 and (module_imports or new_import_lines)
        ordered.append((line, line - 1, 1, ("\n" if after_imports else "") + "\n\n".join(found) + "\n\n"))
    if new_import_lines:
        ordered.append((last_import_end + 1, last_import_end, 0, "".join(new_import_lines)))
    for start, end, _priority, text in sorted(ordered, reverse=True):
        lines[start - 1 : end] = [text]
    body = "".join(lines).rstrip() + "\n"
    for source in appended:
        body += "\n\n" + source
    result.text = body
    return result
