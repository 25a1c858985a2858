"""Which Restate image a container runs: the pinned official one, or a clearly named local stand-in.

Shared by the Docker runtime and ``images/build_images.py``. That script loads this file by path,
so it needs nothing but the standard library and the ``docker`` command line: the two tourlab
modules it uses, ``_config`` and ``_errors``, are standard library only and loaded by path there too.

The stand-in ``tourlab-local/restate:<version>`` is the pinned npm ``restate-server`` (static-pie)
on an empty image with a CA bundle. It is built only where the official image can neither be found
nor pulled, is labelled with the digest of its recipe, and is rebuilt when that digest changes.
The official name is never given to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING


def _core(name: str) -> ModuleType:
    """``tourlab.<name>``; by path when images/build_images.py loaded this file without the package."""
    if __package__:
        return importlib.import_module(f"tourlab.{name}")
    spec = importlib.util.spec_from_file_location(f"tourlab_{name}", Path(__file__).resolve().parents[1] / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from tourlab import _config, _errors, _process
else:
    _config, _errors, _process = _core("_config"), _core("_errors"), _core("_process")

LOCAL = "tourlab-local"
LABEL = "org.restate-tour-lab"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RESTATE_DOCKERFILE = "images/restate.Dockerfile"
#: After a failed pull, how long (seconds) runtimes use the stand-in before asking the registry again.
PULL_RETRY_AFTER = 600.0

Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass
class StandIn:
    """A local image replacing `official`; `recipe` digests everything that goes into it."""

    kind: str
    image: str
    official: str
    recipe: str
    version: str

    def labels(self) -> dict[str, str]:
        return {LABEL: self.kind, f"{LABEL}.version": self.version, f"{LABEL}.recipe": self.recipe}


@dataclass(frozen=True)
class ImageChoice:
    """The image a Restate container runs, and why."""

    image: str
    official: bool
    #: One line for logs and messages, e.g. why the official image is not used.
    note: str


def docker(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``docker ARGS`` with its output captured; a failure is returned, not raised."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(hashlib.sha256(part).digest())
    return hashed.hexdigest()[:16]


def file_digest(path: Path) -> bytes:
    hashed = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            hashed.update(chunk)
    return hashed.digest()


def image_present(image: str) -> bool:
    return docker("image", "inspect", "--format", "{{.Id}}", image).returncode == 0


def pull_problem(image: str, timeout: float, log: Log = _quiet) -> str | None:
    """None if `image` is here or could be pulled now, else why not."""
    if image_present(image):
        return None
    log(f"pulling {image} (at most {timeout:.0f} s)")
    try:
        pulled = docker("pull", image, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"no answer within {timeout:.0f} s"
    return None if pulled.returncode == 0 else (pulled.stderr.strip().splitlines() or ["failed"])[-1]


def ensure(stand_in: StandIn, build: Callable[[StandIn], None], log: Log = _quiet) -> str:
    """Build `stand_in` unless an image of the same recipe exists; returns its name."""
    found = docker("image", "inspect", "--format", f'{{{{ index .Config.Labels "{LABEL}.recipe" }}}}', stand_in.image)
    if found.returncode == 0 and found.stdout.strip() == stand_in.recipe:
        log(f"{stand_in.image}: the local stand-in for {stand_in.official} is up to date")
    else:
        log(f"building {stand_in.image}: a LOCAL STAND-IN for {stand_in.official}, which could not be pulled")
        build(stand_in)
    return stand_in.image


def docker_build(stand_in: StandIn, dockerfile: Path, context: Path, *args: str, quiet: bool = False) -> None:
    """``docker build`` `stand_in` with its labels; raises ImageBuildError with docker's words if it fails."""
    labels = [flag for item in stand_in.labels().items() for flag in ("--label", "=".join(item))]
    command = ["docker", "build", "-f", str(dockerfile), *labels, *args, "-t", stand_in.image, str(context)]
    built = subprocess.run(command, capture_output=quiet, text=True, check=False)
    if built.returncode != 0:
        raise _errors.ImageBuildError(
            f"docker build of {stand_in.image} failed: {(built.stderr or '').strip()[-2000:]}"
        )


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Held while images are pulled or built, so parallel kernels and scripts build each one once."""
    # Not locked on Windows: a second build of the same recipe only wastes time.
    with _process.locked(root / ".tourlab" / "build_images.lock"):
        yield


# -- Restate ----------------------------------------------------------------------------------------


def restate_package(root: Path) -> str:
    """The npm package holding the Linux restate-server (what a container runs) for this machine's architecture."""
    return _config.native_package(_config.SERVER_PACKAGE, "Linux")


def restate_binary(root: Path) -> Path | None:
    """The pinned Linux restate-server installed by ``npm ci`` in `root`, if it is there."""
    binary = _config.npm_binary(_config.SERVER_PACKAGE, "restate-server", system="Linux", root=root)
    return binary if binary.is_file() else None


def _binary_identity(root: Path, binary: Path) -> bytes:
    """What identifies the binary: npm's integrity hash of its package (cheap), else its own digest."""
    try:
        installed = json.loads((root / "node_modules" / ".package-lock.json").read_text())
        integrity = installed["packages"][f"node_modules/{restate_package(root)}"]["integrity"]
        return f"npm:{integrity}".encode()
    except (OSError, ValueError, KeyError, TypeError):
        return file_digest(binary)  # 225 MB: about 1.5 s


def restate_stand_in(root: Path, version: str, official: str) -> StandIn | None:
    """The stand-in for `official` as it would be built from this checkout (None without the binary)."""
    binary = restate_binary(root)
    if binary is None:
        return None
    host_ca = file_digest(HOST_CA_BUNDLE) if HOST_CA_BUNDLE.is_file() else b""
    recipe = digest((root / RESTATE_DOCKERFILE).read_bytes(), _binary_identity(root, binary), host_ca)
    return StandIn("restate", f"{LOCAL}/restate:{version}", official, recipe, version)


def build_restate(root: Path, stand_in: StandIn, *, quiet: bool = False) -> None:
    """Build the Restate stand-in: the npm binary, the host's CA bundle and a writable /tmp."""
    binary = restate_binary(root)
    if binary is None:
        raise _errors.ServerNotInstalledError(
            f"the pinned restate-server is not installed under {root / 'node_modules'}: run  cd {root} && npm ci"
        )
    if not HOST_CA_BUNDLE.is_file():
        raise _errors.ImageBuildError(
            f"no CA bundle at {HOST_CA_BUNDLE}: restate-server needs one (NativeCertsNotFound)"
        )
    with tempfile.TemporaryDirectory(prefix="tourlab-restate-") as tmp:
        context = Path(tmp)
        try:
            os.link(binary, context / "restate-server")  # no 225 MB copy where a hard link works
        except OSError:
            shutil.copy2(binary, context / "restate-server")
        shutil.copyfile(HOST_CA_BUNDLE, context / "ca-certificates.crt")
        (context / "tmp").mkdir()
        (context / "tmp").chmod(0o1777)
        docker_build(stand_in, root / RESTATE_DOCKERFILE, context, quiet=quiet)


def _pull_failed_recently(marker: Path) -> str | None:
    try:
        seen = json.loads(marker.read_text())
        if time.time() - float(seen["at"]) < PULL_RETRY_AFTER:
            return str(seen["problem"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def choose_restate_image(
    root: Path, version: str, official: str, *, state_dir: Path, pull_timeout: float = 120.0, log: Log = _quiet
) -> ImageChoice:
    """The official image if it is here or can be pulled, else the local stand-in (built if needed).

    A failed pull is remembered in `state_dir` for ``PULL_RETRY_AFTER`` seconds, so kernels that
    start meanwhile do not ask the registry again. Raises ImageUnavailableError when neither can be had.
    """
    if image_present(official):
        return ImageChoice(official, official=True, note=f"{official} (official image)")
    marker = state_dir / "pull-failed.json"
    with build_lock(root):  # kernels starting together: one pulls (or builds), the others then see the result
        problem = _pull_failed_recently(marker)
        if problem is None and image_present(official):
            return ImageChoice(official, official=True, note=f"{official} (official image)")
        if problem is None:
            problem = pull_problem(official, pull_timeout, log)
            if problem is None:
                return ImageChoice(official, official=True, note=f"{official} (official image, pulled)")
            state_dir.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"image": official, "problem": problem, "at": time.time()}))
        stand_in = restate_stand_in(root, version, official)
        if stand_in is None:
            raise _errors.ImageUnavailableError(
                f"{official} cannot be pulled ({problem}) and no local stand-in can be built without the "
                f"pinned restate-server: run  cd {root} && npm ci"
            )
        ensure(stand_in, lambda wanted: build_restate(root, wanted, quiet=True), log)
    return ImageChoice(
        stand_in.image,
        official=False,
        note=f"{stand_in.image}, a LOCAL STAND-IN for {official} (the npm restate-server {version}); "
        f"the official image cannot be pulled: {problem}",
    )
