"""Install the course's JupyterLab defaults into the running Python's environment.

Used by binder/postBuild and the Dockerfile. Every open notebook keeps a kernel and its own
restate-server (about 0.25 GB), so forgotten kernels are culled after 20 idle minutes and a
kernel is shut down when its notebook is closed. Existing settings in those files are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jupyterlab.commands import get_app_dir

HERE = Path(__file__).resolve().parent


def install() -> list[Path]:
    targets = {
        "jupyter_server_config.json": Path(sys.prefix, "etc", "jupyter", "jupyter_server_config.json"),
        "overrides.json": Path(get_app_dir(), "settings", "overrides.json"),
    }
    for name, target in targets.items():
        merged = json.loads(target.read_text()) if target.is_file() else {}
        for section, values in json.loads((HERE / name).read_text()).items():
            merged.setdefault(section, {}).update(values)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(merged, indent=2) + "\n")
    return list(targets.values())


if __name__ == "__main__":
    for path in install():
        print(path)  # noqa: T201 - build log
