"""Hints for the Python errors a learner's code ends with: a missing import, a typo, a None from ctx.get..."""

from __future__ import annotations

import ast
import difflib
import functools
import re
from dataclasses import dataclass

from tourlab import PROJECT_ROOT
from tourlab.course.workspace import relative_imports

_NAME_ERROR = re.compile(r"NameError: name '(\w+)' is not defined")
_IMPORT_ERROR = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_NOT_CALLABLE = re.compile(r"TypeError: (?:'\w+' object is not callable|the first argument must be callable)")
_NONE_VALUE = re.compile(r"'NoneType' object|argument of type 'NoneType'")
_FILE = re.compile(r"(\w+\.py)")
#: Names the tour's code uses that no tour module imports.
_EXTRA_IMPORTS = {"timedelta": "from datetime import timedelta", "TerminalError": "from restate import TerminalError"}


@dataclass(frozen=True)
class _Origin:
    """Where a name of the tour's code comes from: the import that brings it, or the module defining it."""

    import_line: str
    module_file: str | None = None
    source: str | None = None


@functools.cache
def _tour_names() -> dict[str, _Origin]:
    """Every name the finished tour app (``tour/part4``) defines or imports, and where it comes from."""
    names = {name: _Origin(line) for name, line in _EXTRA_IMPORTS.items()}
    for path in sorted((PROJECT_ROOT / "tour" / "part4").glob("*.py")):
        text = path.read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    single = ast.ImportFrom(module=node.module, names=[alias], level=node.level)
                    line = relative_imports(ast.unparse(single), "tour.part4")
                    names.setdefault(alias.asname or alias.name, _Origin(line))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    names.setdefault(alias.asname or alias.name, _Origin(f"import {alias.name}"))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign):
                targets = node.targets if isinstance(node, ast.Assign) else [node]
                for target in targets:
                    name = target.id if isinstance(target, ast.Name) else getattr(target, "name", None)
                    if name:
                        line = text.splitlines()[node.lineno - 1].strip()
                        names[name] = _Origin(f"from .{path.stem} import {name}", path.name, line)
    return names


def _name_hint(name: str, failing_file: str | None) -> str:
    origin = _tour_names().get(name)
    if origin is None:
        close = difflib.get_close_matches(name, list(_tour_names()), n=1)
        guess = f" Did you mean {close[0]}?" if close else ""
        return f"Python does not know the name {name}: check its spelling.{guess}"
    if origin.module_file is not None and origin.module_file == failing_file:
        return (
            f"{name} belongs in {failing_file} itself, but your file does not define it. "
            f"The finished tour app has this line there: {origin.source}"
        )
    return f"{name} lives in another module, so your cell must import it first: {origin.import_line}"


def error_hint(error_text: str | None) -> str | None:
    """A hint for the Python error in `error_text` (a missing import, a typo...), or None if none fits."""
    text = error_text or ""
    files = _FILE.findall(text)
    if found := _NAME_ERROR.search(text):
        return _name_hint(found[1], files[-1] if files else None)
    if found := _IMPORT_ERROR.search(text):
        origin = _tour_names().get(found[1])
        where = f" It is imported like this: {origin.import_line}" if origin else ""
        return f"{found[2]} has no {found[1]}.{where}"
    if _NONE_VALUE.search(text):
        return (
            "ctx.get gives None for a state key that was never set (a new cart, an untouched seat): give it a "
            'default, e.g. await ctx.get("tickets", type_hint=list[str]) or [].'
        )
    if _NOT_CALLABLE.search(text):
        return (
            "ctx.run_typed got a value where it needs a function to call. It takes the function "
            'and its arguments separately: ctx.run_typed("email", email_client.notify_user_of_payment_success, '
            'RunOptions(type_hint=bool), order["user_id"]), not the result of calling it.'
        )
    return None
