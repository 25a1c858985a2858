"""Get the images docker compose needs: pull the pinned ones, or build local stand-ins.

    python3 images/build_images.py [--env-file .tourlab/compose.env]

Each pinned image (Restate, the Node and Python bases of the lab image, Jaeger) is pulled with a
bounded wait. One that cannot be pulled (no registry answers) is replaced by a stand-in built on
this machine and named ``tourlab-local/...``, never with the official name:

- ``tourlab-local/restate:<version>``: the pinned npm restate-server binary on ``scratch``;
- ``tourlab-local/python:3.11-bookworm``: a Debian bookworm root filesystem (debootstrap, as root)
  with Debian's Python 3.11 in a venv on ``PATH``, trusting the CAs this machine trusts;
- ``tourlab-local/node:18-bookworm``: that base plus Debian's Node.js and npm.

Jaeger has no stand-in: without its image compose runs without it. A stand-in whose recipe has not
changed (label ``org.restate-tour-lab.recipe``) is not built again. The env file tells compose which
images to use and whether Jaeger's override file is loaded:

    docker compose --env-file .tourlab/compose.env up        (docker-compose 1.29: the same flags)

Only the standard library and the ``docker`` command line are used. The Restate part lives in
``tourlab/_runtimes/images.py`` (loaded by path), which the Docker runtime of the lab uses too: a
kernel in docker mode builds the same stand-in when it needs one. Runs of this script and those
kernels wait for each other (a lock file), so each stand-in is built once.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _load_shared() -> ModuleType:
    """tourlab/_runtimes/images.py by path: the Docker runtime and this script share it (stdlib only)."""
    spec = importlib.util.spec_from_file_location("tourlab_images", ROOT / "tourlab" / "_runtimes" / "images.py")
    if spec is None or spec.loader is None:
        raise SystemExit("tourlab/_runtimes/images.py is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


shared = _load_shared()
LOCAL = shared.LOCAL
LABEL = shared.LABEL
HOST_CA_BUNDLE = shared.HOST_CA_BUNDLE
StandIn = shared.StandIn
digest, file_digest, docker, ensure = shared.digest, shared.file_digest, shared.docker, shared.ensure
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
#: passwd: useradd for the lab's learner user (debootstrap's minbase lacks it).
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates", "passwd")
#: No docs, man pages or translations, now or from later apt installs (as Debian's slim images).
DPKG_EXCLUDES = "path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\n"
#: Removed from the root filesystem before it is imported (apt caches and lists, docs, translations).
CLEANUP = (
    "var/cache/apt/archives/*.deb",
    "var/lib/apt/lists/*",
    "usr/share/doc/*",
    "usr/share/man/*",
    "usr/share/locale/*",
)
PULL_TIMEOUT = 300.0
JAEGER_OVERRIDE = "docker-compose.override.yml"
PEM = r"-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----"


def log(message: str) -> None:
    print(f"[build_images] {message}", flush=True)  # noqa: T201 - a command-line tool


def run(command: list[str], *, quiet: bool = False) -> None:
    """A build step, its output shown (`quiet`: errors only); stops the script if it fails."""
    completed = subprocess.run(command, stdout=subprocess.DEVNULL if quiet else None, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(command)}")


def lab_image() -> str:
    """The lab image's local name: tagged with the course version (what the classroom hub runs)."""
    return f"{LOCAL}/lab:{tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['version']}"


def restate_version() -> str:
    """The pinned restate-server version (package.json)."""
    return str(json.loads((ROOT / "package.json").read_text())["dependencies"]["@restatedev/restate-server"])


def pinned_images() -> dict[str, str]:
    """compose variable -> the pinned image, read from the files that pin them."""
    restate = re.search(r"\$\{TOURLAB_RESTATE_IMAGE:-([^}]+)\}", (ROOT / "docker-compose.yml").read_text())
    jaeger = re.search(r"image:\s*(\S*jaegertracing/jaeger:\S+)", (ROOT / JAEGER_OVERRIDE).read_text())
    bases = dict(re.findall(r"^ARG (NODE_IMAGE|PYTHON_IMAGE)=(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    if restate is None or jaeger is None or len(bases) != 2:
        raise SystemExit("docker-compose*.yml or the Dockerfile no longer pin the images this script expects")
    return {
        "TOURLAB_RESTATE_IMAGE": restate.group(1),
        "TOURLAB_NODE_IMAGE": bases["NODE_IMAGE"],
        "TOURLAB_PYTHON_IMAGE": bases["PYTHON_IMAGE"],
        "TOURLAB_JAEGER_IMAGE": jaeger.group(1),
    }


def host_only_certificates(rootfs_bundle: str) -> list[str]:
    """The PEM certificates this machine trusts that the new root filesystem does not."""
    known = {"".join(pem.split()) for pem in re.findall(PEM, rootfs_bundle)}
    return [pem for pem in re.findall(PEM, HOST_CA_BUNDLE.read_text()) if "".join(pem.split()) not in known]


def build_python_base(stand_in: StandIn) -> None:
    """Debian bookworm by debootstrap, Python 3.11 in /opt/venv, imported as one layer."""
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        raise SystemExit("the local Python base needs root and debootstrap (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="tourlab-rootfs-") as tmp:
        rootfs = Path(tmp)
        log(f"debootstrap {DEBIAN_SUITE} with {', '.join(DEBIAN_PACKAGES)} from {DEBIAN_MIRROR}")
        include = f"--include={','.join(DEBIAN_PACKAGES)}"
        run(["debootstrap", "--variant=minbase", include, DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR], quiet=True)
        # pip, npm and apt inside later builds verify TLS with this bundle: trust what this machine trusts.
        extra = host_only_certificates((rootfs / HOST_CA_BUNDLE.relative_to("/")).read_text())
        for number, pem in enumerate(extra):
            (rootfs / f"usr/local/share/ca-certificates/tourlab-host-{number}.crt").write_text(pem + "\n")
        log(f"adding {len(extra)} CA certificate(s) that this machine trusts beyond Debian's bundle")
        run(["chroot", str(rootfs), "update-ca-certificates"], quiet=True)
        run(["chroot", str(rootfs), "python3", "-m", "venv", "/opt/venv"])
        (rootfs / "etc/dpkg/dpkg.cfg.d/tourlab-slim").write_text(DPKG_EXCLUDES)
        for pattern in CLEANUP:
            for path in rootfs.glob(pattern):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        changes = [
            "ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["python3"]',
            *(f"LABEL {name}={value}" for name, value in stand_in.labels().items()),
        ]
        with subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                ["docker", "import", *(f"--change={change}" for change in changes), "-", stand_in.image],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                check=False,
            )
        if imported.returncode != 0 or tar.returncode != 0:
            raise SystemExit(f"docker import failed: {imported.stderr.strip()}")


def docker_build(stand_in: StandIn, dockerfile: Path, context: Path, *args: str) -> None:
    try:
        shared.docker_build(stand_in, dockerfile, context, *args)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None


def build_node_base(stand_in: StandIn, python_base: str) -> None:
    with tempfile.TemporaryDirectory(prefix="tourlab-node-") as context:
        docker_build(stand_in, HERE / "node.Dockerfile", Path(context), "--build-arg", f"BASE={python_base}")


def build_restate(stand_in: StandIn) -> None:
    try:
        shared.build_restate(ROOT, stand_in)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None


def prepare(pull_timeout: float) -> dict[str, str]:
    """Pull or build every image; returns the settings for compose's env file."""
    version = restate_version()
    pinned = pinned_images()
    missing: set[str] = set()
    for variable, image in pinned.items():
        problem = shared.pull_problem(image, pull_timeout, log)
        if problem is not None:
            log(f"cannot pull {image}: {problem}")
            missing.add(variable)
    chosen = {variable: image for variable, image in pinned.items() if variable not in missing}
    host_ca = file_digest(HOST_CA_BUNDLE) if HOST_CA_BUNDLE.is_file() else b""
    if missing & {"TOURLAB_PYTHON_IMAGE", "TOURLAB_NODE_IMAGE"}:  # the Node stand-in is built on the Python one
        recipe = digest(
            " ".join([DEBIAN_SUITE, DEBIAN_MIRROR, *DEBIAN_PACKAGES, DPKG_EXCLUDES, *CLEANUP]).encode(), host_ca
        )
        official = pinned["TOURLAB_PYTHON_IMAGE"]
        python = StandIn("python", f"{LOCAL}/python:3.11-{DEBIAN_SUITE}", official, recipe, "3.11")
        ensure(python, build_python_base, log)
        if "TOURLAB_PYTHON_IMAGE" in missing:
            chosen["TOURLAB_PYTHON_IMAGE"] = python.image
        if "TOURLAB_NODE_IMAGE" in missing:
            recipe = digest(python.recipe.encode(), (HERE / "node.Dockerfile").read_bytes())
            node = StandIn("node", f"{LOCAL}/node:18-{DEBIAN_SUITE}", pinned["TOURLAB_NODE_IMAGE"], recipe, "18")
            chosen["TOURLAB_NODE_IMAGE"] = ensure(node, lambda stand_in: build_node_base(stand_in, python.image), log)
    if "TOURLAB_RESTATE_IMAGE" in missing:
        restate = shared.restate_stand_in(ROOT, version, pinned["TOURLAB_RESTATE_IMAGE"])
        if restate is None:
            raise SystemExit("the pinned restate-server is missing: install it first (npm ci)")
        chosen["TOURLAB_RESTATE_IMAGE"] = ensure(restate, build_restate, log)
    settings = {"COMPOSE_FILE": "docker-compose.yml"}
    if "TOURLAB_JAEGER_IMAGE" in missing:
        log(f"no Jaeger image: compose leaves out {JAEGER_OVERRIDE}; everything else works without it")
    else:
        settings["COMPOSE_FILE"] += os.pathsep + JAEGER_OVERRIDE
    chosen.pop("TOURLAB_JAEGER_IMAGE", None)
    settings["TOURLAB_LAB_IMAGE"] = lab_image()  # built locally from the chosen bases, by compose or the hub's test
    return settings | chosen


def write_env_file(path: Path, settings: dict[str, str]) -> None:
    header = "# Written by images/build_images.py: the images docker compose uses on this machine."
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *(f"{name}={value}" for name, value in settings.items())]) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-file", type=Path, default=ROOT / ".tourlab" / "compose.env")
    parser.add_argument("--pull-timeout", type=float, default=PULL_TIMEOUT, help="seconds per image (default 300)")
    options = parser.parse_args(argv)
    if shutil.which("docker") is None or docker("info").returncode != 0:
        log("no Docker engine answers (`docker info` failed)")
        return 1
    with shared.build_lock(ROOT):
        settings = prepare(options.pull_timeout)
    write_env_file(options.env_file, settings)
    log(f"wrote {options.env_file}; start with:  docker compose --env-file {options.env_file} up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
