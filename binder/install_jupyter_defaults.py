"""Install the course's JupyterLab defaults into the running Python's environment.

Used by ./course, binder/postBuild and the Dockerfile. Every open notebook keeps a kernel and its
own restate-server (about 0.25 GB), so a kernel is shut down when its notebook is closed and a
forgotten one (no notebook connected) is culled after 20 idle minutes; a kernel whose notebook is
open is never culled, so a learner can spend an hour in the editor or away. (The classroom hub
passes its own culling flags.) The file browser follows the open document (it starts in
my-notebooks/), and widget state is saved with a notebook, so a reopened one shows its panels
as they were instead of "model not found". Kernels load ``tourlab.course.kernel``: after a restart,
a cell that needs the chapter's first cell says so in one line. Existing settings in those files
are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jupyterlab.commands import get_app_dir

HERE = Path(__file__).resolve().parent


def install(prefix: Path | None = None, app_dir: Path | None = None) -> list[Path]:
    """Merge the course's defaults into the environment at `prefix` (default: this Python's)."""
    prefix = prefix or Path(sys.prefix)
    targets = {
        "jupyter_server_config.json": prefix / "etc" / "jupyter" / "jupyter_server_config.json",
        "overrides.json": (app_dir or Path(get_app_dir())) / "settings" / "overrides.json",
        # Read by every IPython kernel of this environment (IPython's config path has <prefix>/etc/ipython).
        "ipython_kernel_config.json": prefix / "etc" / "ipython" / "ipython_kernel_config.json",
    }
    for name, target in targets.items():
        merged = json.loads(target.read_text()) if target.is_file() else {}
        for section, values in json.loads((HERE / name).read_text()).items():
            existing = merged.setdefault(section, {})
            for key, value in values.items():
                had = existing.get(key)
                both_lists = isinstance(value, list) and isinstance(had, list)
                existing[key] = [*had, *(v for v in value if v not in had)] if both_lists else value
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(merged, indent=2) + "\n")
    return list(targets.values())


if __name__ == "__main__":
    for path in install():
        print(path)  # noqa: T201 - build log
