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

Only the standard library and the ``docker`` command line are used. Runs of this script wait for
each other (a lock file), so parallel test workers build each stand-in once.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOCAL = "tourlab-local"
LABEL = "org.restate-tour-lab"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
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


def log(message: str) -> None:
    print(f"[build_images] {message}", flush=True)  # noqa: T201 - a command-line tool


def docker(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``docker ARGS`` with its output captured; a failure is returned, not raised."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def run(command: list[str], *, quiet: bool = False) -> None:
    """A build step, its output shown (`quiet`: errors only); stops the script if it fails."""
    completed = subprocess.run(command, stdout=subprocess.DEVNULL if quiet else None, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(command)}")


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


def pull_problem(image: str, timeout: float) -> str | None:
    """None if `image` is here or could be pulled now, else why not."""
    if docker("image", "inspect", image).returncode == 0:
        return None
    log(f"pulling {image} (at most {timeout:.0f} s)")
    try:
        pulled = docker("pull", image, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"no answer within {timeout:.0f} s"
    return None if pulled.returncode == 0 else (pulled.stderr.strip().splitlines() or ["failed"])[-1]


def ensure(stand_in: StandIn, build: Callable[[StandIn], None]) -> str:
    """Build `stand_in` unless an image of the same recipe exists; returns its name."""
    found = docker("image", "inspect", "--format", f'{{{{ index .Config.Labels "{LABEL}.recipe" }}}}', stand_in.image)
    if found.returncode == 0 and found.stdout.strip() == stand_in.recipe:
        log(f"{stand_in.image}: the local stand-in for {stand_in.official} is up to date")
    else:
        log(f"building {stand_in.image}: a LOCAL STAND-IN for {stand_in.official}, which could not be pulled")
        build(stand_in)
    return stand_in.image


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
    labels = [flag for item in stand_in.labels().items() for flag in ("--label", "=".join(item))]
    run(["docker", "build", "-f", str(dockerfile), *labels, *args, "-t", stand_in.image, str(context)])


def build_node_base(stand_in: StandIn, python_base: str) -> None:
    with tempfile.TemporaryDirectory(prefix="tourlab-node-") as context:
        docker_build(stand_in, HERE / "node.Dockerfile", Path(context), "--build-arg", f"BASE={python_base}")


def restate_binary() -> Path:
    """The pinned restate-server for Linux on this machine's architecture (installed by npm ci)."""
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    binary = ROOT / f"node_modules/@restatedev/restate-server-linux-{arch}/bin/restate-server"
    if not binary.is_file():
        raise SystemExit(f"{binary} is missing: install the pinned server first (npm ci)")
    return binary


def build_restate(stand_in: StandIn) -> None:
    with tempfile.TemporaryDirectory(prefix="tourlab-restate-") as tmp:
        context = Path(tmp)
        shutil.copy2(restate_binary(), context / "restate-server")
        shutil.copyfile(HOST_CA_BUNDLE, context / "ca-certificates.crt")
        (context / "tmp").mkdir()
        (context / "tmp").chmod(0o1777)
        docker_build(stand_in, HERE / "restate.Dockerfile", context)


def prepare(pull_timeout: float) -> dict[str, str]:
    """Pull or build every image; returns the settings for compose's env file."""
    version = restate_version()
    pinned = pinned_images()
    missing: set[str] = set()
    for variable, image in pinned.items():
        problem = pull_problem(image, pull_timeout)
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
        ensure(python, build_python_base)
        if "TOURLAB_PYTHON_IMAGE" in missing:
            chosen["TOURLAB_PYTHON_IMAGE"] = python.image
        if "TOURLAB_NODE_IMAGE" in missing:
            recipe = digest(python.recipe.encode(), (HERE / "node.Dockerfile").read_bytes())
            node = StandIn("node", f"{LOCAL}/node:18-{DEBIAN_SUITE}", pinned["TOURLAB_NODE_IMAGE"], recipe, "18")
            chosen["TOURLAB_NODE_IMAGE"] = ensure(node, lambda stand_in: build_node_base(stand_in, python.image))
    if "TOURLAB_RESTATE_IMAGE" in missing:
        recipe = digest((HERE / "restate.Dockerfile").read_bytes(), file_digest(restate_binary()), host_ca)
        restate = StandIn("restate", f"{LOCAL}/restate:{version}", pinned["TOURLAB_RESTATE_IMAGE"], recipe, version)
        chosen["TOURLAB_RESTATE_IMAGE"] = ensure(restate, build_restate)
    settings = {"COMPOSE_FILE": "docker-compose.yml"}
    if "TOURLAB_JAEGER_IMAGE" in missing:
        log(f"no Jaeger image: compose leaves out {JAEGER_OVERRIDE}; everything else works without it")
    else:
        settings["COMPOSE_FILE"] += os.pathsep + JAEGER_OVERRIDE
    chosen.pop("TOURLAB_JAEGER_IMAGE", None)
    if missing & {"TOURLAB_PYTHON_IMAGE", "TOURLAB_NODE_IMAGE"}:
        settings["TOURLAB_LAB_IMAGE"] = f"{LOCAL}/lab:latest"  # built by compose from the stand-in bases
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
    lock_path = ROOT / ".tourlab" / "build_images.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        settings = prepare(options.pull_timeout)
    write_env_file(options.env_file, settings)
    log(f"wrote {options.env_file}; start with:  docker compose --env-file {options.env_file} up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
