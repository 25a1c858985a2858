"""Notebook runs (nbval) get their own workspace and progress file, never the learner's."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from jupyter_client import KernelManager

# Kernels inherit this process's environment, so set it before nbval starts any kernel.
_scratch = Path(tempfile.mkdtemp(prefix="tourlab-nbval-"))
os.environ["TOURLAB_WORKSPACE"] = str(_scratch / "workspace")
os.environ["TOURLAB_PROGRESS"] = str(_scratch / "progress.json")
os.environ.pop("TOUR_RESERVATION_SECONDS", None)
# Nobody clicks in a panel here: cells that wait for a click take their fallback at once.
os.environ["TOURLAB_NONINTERACTIVE"] = "1"

_SANITIZER = Path(__file__).with_name("sanitize.cfg")


def _kernel_on_unix_sockets(**options: object) -> KernelManager:
    """nbval's kernels talk over Unix sockets in a folder of their own, as the hub's do.

    Over TCP, Jupyter picks a kernel's five ports and closes them, and the kernel binds them a moment
    later. Another program (a second test worker, its kernels, a Restate) can take one meanwhile,
    and the kernel then exits before it answers ("Kernel died before replying to kernel_info").
    """
    folder = Path(tempfile.mkdtemp(prefix="kernel-", dir=_scratch))
    return KernelManager(transport="ipc", ip=str(folder / "k"), **options)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_scratch, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A progress file of each notebook's own, set before its kernel starts: its overview shows that notebook alone."""
    os.environ["TOURLAB_PROGRESS"] = str(_scratch / f"progress-{item.path.stem}.json")


def pytest_configure(config: pytest.Config) -> None:
    """Run every notebook and compare its outputs after sanitizing ids, ports and timestamps, in a
    kernel of this environment that talks over Unix sockets."""
    if not config.option.nbval_lax:
        config.option.nbval = True  # here, not in pyproject's addopts: a learner's pytest run has no nbval
    if config.option.nbval_sanitize_with is None:
        config.option.nbval_sanitize_with = str(_SANITIZER)
    config.option.nbval_current_env = True
    nbval_kernels = sys.modules.get("nbval.kernel")  # loaded with the nbval plugin (a learner's pytest has none)
    if nbval_kernels is not None:
        nbval_kernels.KernelManager = _kernel_on_unix_sockets  # what nbval makes its kernels with
