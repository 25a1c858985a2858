"""Import (and re-import) the learner's handler package without a stale byte of old code."""

from __future__ import annotations

import importlib
import shutil
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import restate

from tourlab import _config
from tourlab._errors import HandlerModuleError


@dataclass(frozen=True)
class LoadedApp:
    """An imported handler package: the ASGI app and the Restate services it serves."""

    package: str
    app: Any
    services: dict[str, list[str]]


def package_name(app_dir: Path) -> str:
    """The dotted import name of a package directory (``tour/part1`` -> ``tour.part1``).

    Directories outside the project are imported by their own name, from their parent.
    """
    app_dir = app_dir.resolve()
    try:
        relative = app_dir.relative_to(_config.PROJECT_ROOT)
        root = _config.PROJECT_ROOT
    except ValueError:
        relative = Path(app_dir.name)
        root = app_dir.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return ".".join(relative.parts)


def load_app(app_dir: Path, *, module: str = "app", attribute: str = "app") -> LoadedApp:
    """Import ``<package>.<module>`` fresh from disk and return its ``app``.

    Every module of the package is re-imported, so edits to any file take effect. If the
    import fails, the previously imported modules are put back and a HandlerModuleError
    names the file and line that broke.
    """
    app_dir = Path(app_dir).resolve()
    if not (app_dir / f"{module}.py").is_file():
        raise HandlerModuleError(f"No {module}.py in {app_dir}: point the lab at a folder like tour/part1.")
    package = package_name(app_dir)
    previous = _detach_package(package)
    _drop_bytecode(app_dir)
    importlib.invalidate_caches()
    try:
        loaded = importlib.import_module(f"{package}.{module}")
        app = getattr(loaded, attribute)
        services = _services_of(package)
        if not callable(app):
            raise TypeError(f"{module}.{attribute} is not an ASGI app; create it with restate.app(services=[...])")
    except BaseException as error:  # a learner's module can raise anything; re-raised below
        _detach_package(package)
        sys.modules.update(previous)
        raise _explain(error, app_dir) from error
    return LoadedApp(package=package, app=app, services=services)


def _detach_package(package: str) -> dict[str, ModuleType]:
    detached = {name: mod for name, mod in sys.modules.items() if name == package or name.startswith(package + ".")}
    for name in detached:
        del sys.modules[name]
    return detached


def _drop_bytecode(app_dir: Path) -> None:
    # A .pyc is trusted when size and mtime (in whole seconds) match: a quick edit can keep both.
    shutil.rmtree(app_dir / "__pycache__", ignore_errors=True)


def _services_of(package: str) -> dict[str, list[str]]:
    services: dict[str, list[str]] = {}
    kinds = (restate.Service, restate.VirtualObject, restate.Workflow)
    for name, mod in list(sys.modules.items()):
        if not (name == package or name.startswith(package + ".")):
            continue
        for value in vars(mod).values():
            if isinstance(value, kinds):
                services[value.name] = sorted(value.handlers)
    return dict(sorted(services.items()))


def _explain(error: BaseException, app_dir: Path) -> HandlerModuleError:
    """One readable message: where the learner's code broke and what the error says."""
    filename: str | None = None
    lineno: int | None = None
    if isinstance(error, SyntaxError) and error.filename:
        filename, lineno = error.filename, error.lineno
    else:
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if Path(frame.filename).resolve().is_relative_to(app_dir):
                filename, lineno = frame.filename, frame.lineno
                break
    where = f"{_display(filename)}, line {lineno}" if filename else str(app_dir)
    summary = "".join(traceback.format_exception_only(type(error), error)).strip()
    if isinstance(error, SyntaxError):
        summary = f"SyntaxError: {error.msg}"
        if error.text:
            summary += f"\n    {error.text.rstrip()}"
    return HandlerModuleError(
        f"Your handler code did not load ({where}):\n  {summary}\n"
        "The previous version keeps serving. Fix the code and reload.",
        filename=filename,
        lineno=lineno,
    )


def _display(filename: str) -> str:
    path = Path(filename).resolve()
    return str(path.relative_to(_config.PROJECT_ROOT)) if path.is_relative_to(_config.PROJECT_ROOT) else str(path)
