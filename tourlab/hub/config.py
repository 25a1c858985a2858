"""The JupyterHub configuration of the classroom hub, built from :class:`HubSettings`.

- Authentication: FirstUseAuthenticator. A learner picks a name and a password at the first
  login; the password is required from then on. ``--roster`` limits the names. Instructors
  (``--admin``) get a generated first password, so nobody can claim their name first.
- Spawner ``docker`` (the default when a Docker engine answers): DockerSpawner, one container of
  the lab image per learner on a network where containers cannot reach each other;
  ``<class>/home/<name>/`` is mounted as the work folder.
- Spawner ``local`` (without Docker): jupyterhub's SimpleLocalProcessSpawner. Every learner's
  JupyterLab runs as the hub's own Unix user, in ``<class>/home/<name>/`` with a copy of the
  notebooks, their own workspace, progress and Restate data. No isolation (docs/classroom.md).
- Services: the gradebook (``tourlab.hub.gradebook``, which regrades with ``./course hub
  regrade`` under the same spawner), jupyterhub-idle-culler, and ``class-admin``, an API token
  for scripts kept in ``<class>/api-token``.
"""

from __future__ import annotations

import contextlib
import dbm
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from tourlab import PROJECT_ROOT
from tourlab._config import CLI_PACKAGE, NODE_MODULES, SERVER_PACKAGE, npm_binary
from tourlab.hub.engine import choose_spawner
from tourlab.hub.gradebook import POST_SCOPE, READ_SCOPE, REGRADE_ENV, SERVICE_NAME, load_exercises
from tourlab.hub.settings import HubSettings

#: JupyterHub user names that are also safe folder and container names.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
NOTEBOOKS = PROJECT_ROOT / "notebooks"
DEFAULT_URL = "/lab/tree/notebooks/00_getting_started.ipynb"
#: Inside the lab image (Dockerfile): the course, the learner's uid and where their folder is mounted.
IMAGE_WORK_DIR = "/home/learner/work"
IMAGE_UID = 1000
#: What a learner's server token may do: report activity, be used for its own server, post results.
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server", POST_SCOPE]
CLASS_ADMIN_SCOPES = [
    "admin:users",
    "admin:servers",
    "tokens",
    "access:servers",
    "list:users",
    "read:users",
    READ_SCOPE,
    POST_SCOPE,
]
LOGIN_NOTE = (
    "First time here? Choose a user name (lower-case letters, digits, - or _) and a password of 7 "
    "characters or more: that password is yours from now on."
)


def restate_bin_dirs() -> list[str]:
    """The native ``restate`` and ``restate-server`` folders from npm (as binder/start puts on PATH)."""
    binaries = [npm_binary(CLI_PACKAGE, "restate"), npm_binary(SERVER_PACKAGE, "restate-server")]
    return [str(binary.parent) for binary in binaries if binary.is_file()]


def course_path() -> str:
    """PATH for a learner's server and kernels: the hub's Python, the Restate binaries, the rest."""
    return os.pathsep.join([str(Path(sys.prefix) / "bin"), *restate_bin_dirs(), os.environ.get("PATH", "")])


def exercises_json() -> str:
    return json.dumps([{"id": e.id, "section": e.section, "title": e.title} for e in load_exercises()])


def ensure_secret_file(path: Path) -> str:
    """A random token kept in a 0600 file, created once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def seed_admin_passwords(settings: HubSettings) -> dict[str, str]:
    """Give every instructor without a password a generated one (FirstUseAuthenticator's store).

    Returns the new passwords, which are also appended to ``<class>/instructor-passwords``.
    """
    import bcrypt

    created: dict[str, str] = {}
    settings.class_dir.mkdir(parents=True, exist_ok=True)
    with dbm.open(str(settings.class_dir / "passwords.dbm"), "c", 0o600) as db:
        for name in settings.admins:
            if db.get(name.encode()) is None:
                password = secrets.token_urlsafe(12)
                db[name.encode()] = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
                created[name] = password
    if created:
        file = settings.class_dir / "instructor-passwords"
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as out:
            out.writelines(f"{name} {password}\n" for name, password in created.items())
    return created


def read_roster(path: Path) -> set[str]:
    """User names, one a line (blank lines and # comments ignored)."""
    names = (line.split("#", 1)[0].strip().lower() for line in path.read_text().splitlines())
    return {name for name in names if name}


def prepare_home(home: Path, *, uid: int | None = None) -> None:
    """A learner's folder: a copy of the course notebooks (missing ones only) and JupyterLab settings."""
    target = home / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        if not (target / notebook.name).exists():
            shutil.copy2(notebook, target / notebook.name)
    # Closing a notebook shuts its kernel (and that kernel's Restate) down, as on Binder.
    tracker = home / ".jupyter/lab/user-settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
    if not tracker.exists():
        tracker.parent.mkdir(parents=True, exist_ok=True)
        tracker.write_text('{"kernelShutdown": true}\n')
    if uid is not None:
        for path in [home, *home.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)


def docker_gateway(network: str) -> str:
    """The host's address on the class network (created with container-to-container traffic off)."""
    import docker
    from docker.errors import NotFound

    client = docker.from_env()
    try:
        net = client.networks.get(network)
    except NotFound:
        net = client.networks.create(
            network, driver="bridge", options={"com.docker.network.bridge.enable_icc": "false"}
        )
        net.reload()
    return str(net.attrs["IPAM"]["Config"][0]["Gateway"])


def regrade_command(settings: HubSettings) -> list[str]:
    """How the gradebook regrades: ``./course hub regrade`` for this class and spawner, results on stdout."""
    return [
        sys.executable, "-m", "tourlab.hub", "regrade", f"--class-dir={settings.class_dir}",
        f"--spawner={settings.spawner}", f"--image={settings.image}", "--json-lines",
    ]  # fmt: skip


def configure(c: Any, settings: HubSettings) -> None:
    """Fill JupyterHub's config object ``c`` for a class."""
    if settings.spawner == "auto":  # ./course hub decides before; this is for `jupyterhub -f` alone
        settings = replace(settings, spawner=choose_spawner())
    class_dir = settings.class_dir
    class_dir.mkdir(parents=True, exist_ok=True)
    settings.homes.mkdir(parents=True, exist_ok=True)
    internal_ip = docker_gateway(settings.docker_network) if settings.spawner == "docker" else "127.0.0.1"

    # -- where the hub listens and keeps its state ---------------------------------------------
    c.JupyterHub.ip = settings.ip
    c.JupyterHub.port = settings.port
    c.JupyterHub.hub_ip = internal_ip
    c.JupyterHub.hub_port = settings.hub_port
    c.JupyterHub.db_url = f"sqlite:///{class_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(class_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(class_dir / "jupyterhub.pid")
    c.ConfigurableHTTPProxy.command = [str(NODE_MODULES / ".bin" / "configurable-http-proxy")]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(class_dir / "proxy.pid")
    c.JupyterHub.template_vars = {"announcement_login": LOGIN_NOTE}

    # -- who may log in ---------------------------------------------------------------------------
    c.JupyterHub.authenticator_class = "firstuseauthenticator.FirstUseAuthenticator"
    c.FirstUseAuthenticator.dbm_path = str(class_dir / "passwords.dbm")
    c.Authenticator.admin_users = set(settings.admins)
    c.Authenticator.username_pattern = USERNAME_PATTERN
    if settings.roster is not None:
        c.Authenticator.allowed_users = read_roster(settings.roster)

    # -- roles: who may post to and read the gradebook ------------------------------------------
    c.JupyterHub.custom_scopes = {
        READ_SCOPE: {"description": "Read the class gradebook: every learner's exercise checks."},
    }
    c.JupyterHub.load_roles = [
        # Learners hold the right to post results, so their servers' tokens can be given it.
        {"name": "user", "scopes": ["self", POST_SCOPE]},
        {
            "name": "instructor",
            "description": "Reads the gradebook",
            "scopes": [READ_SCOPE, POST_SCOPE],
            "users": sorted(settings.admins),
        },
        {"name": "gradebook", "scopes": ["list:users", "read:users"], "services": [SERVICE_NAME]},
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        },
        {"name": "class-admin", "scopes": CLASS_ADMIN_SCOPES, "services": ["class-admin"]},
    ]
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES

    # -- services -----------------------------------------------------------------------------------
    gradebook_url = f"http://{internal_ip}:{settings.gradebook_port}"
    c.JupyterHub.services = [
        {
            "name": SERVICE_NAME,
            "url": gradebook_url,
            "command": [sys.executable, "-m", "tourlab.hub.gradebook"],
            "environment": {
                "TOURLAB_GRADEBOOK_DB": str(class_dir / "gradebook.sqlite"),
                "TOURLAB_GRADEBOOK_EXERCISES": exercises_json(),
                REGRADE_ENV: json.dumps(regrade_command(settings)),
            },
            "oauth_client_allowed_scopes": [READ_SCOPE],
            "oauth_no_confirm": True,
            "display": True,
            "info": {"description": "Every learner's exercise checks"},
        },
        {
            "name": "idle-culler",
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={settings.cull_timeout}",
                f"--cull-every={settings.cull_every}",
                "--concurrency=10",
            ],
        },
        {"name": "class-admin", "api_token": ensure_secret_file(settings.api_token_file)},
    ]

    # -- each learner's server ----------------------------------------------------------------------
    c.Spawner.default_url = DEFAULT_URL
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 120
    kernel_culling = [
        f"--MappingKernelManager.cull_idle_timeout={settings.kernel_cull_timeout}",
        "--MappingKernelManager.cull_interval=120",
        "--MappingKernelManager.cull_connected=True",
        "--MappingKernelManager.cull_busy=False",
    ]
    learner_env = {
        "TOURLAB_RUNTIME": "embedded",
        "TOURLAB_GRADEBOOK_URL": f"{gradebook_url}/services/{SERVICE_NAME}",
    }
    if settings.spawner == "docker":
        _configure_docker(c, settings, internal_ip, learner_env, kernel_culling)
    else:
        _configure_local(c, settings, learner_env, kernel_culling)


def _configure_local(c: Any, settings: HubSettings, learner_env: dict[str, str], args: list[str]) -> None:
    homes = settings.homes
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(homes / "{username}")
    c.Spawner.cmd = [str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser")]
    # Kernels talk to their server over Unix sockets. Over TCP, with a class on one machine, a port
    # picked for a new kernel is now and then taken by another learner's process before the kernel
    # binds it, and the kernel dies. Socket paths are limited to ~100 bytes, hence a short folder.
    args = [*args, "--KernelManager.transport=ipc"]
    c.Spawner.args = [*args, "--allow-root"] if os.geteuid() == 0 else args
    sockets = Path(tempfile.gettempdir()) / f"tourlab-{hashlib.sha256(str(homes).encode()).hexdigest()[:8]}"

    def home(spawner: Any) -> Path:
        return Path(spawner.home_dir)

    c.Spawner.environment = {
        **learner_env,
        "PATH": course_path(),
        "TOURLAB_HOME": lambda spawner: str(home(spawner) / ".tourlab"),
        "TOURLAB_WORKSPACE": lambda spawner: str(home(spawner) / "workspace"),
        "TOURLAB_PROGRESS": lambda spawner: str(home(spawner) / ".tourlab" / "progress.json"),
        "JUPYTER_RUNTIME_DIR": lambda spawner: str(sockets / spawner.user.name),
    }
    c.Spawner.pre_spawn_hook = lambda spawner: prepare_home(home(spawner))
    c.Spawner.post_stop_hook = lambda spawner: _remove_sockets(sockets / spawner.user.name)


def _remove_sockets(folder: Path) -> None:
    """A stopped learner's socket folder goes, and the class's folder with its last learner."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty: other learners' servers still run
        folder.parent.rmdir()


def _configure_docker(
    c: Any, settings: HubSettings, internal_ip: str, learner_env: dict[str, str], args: list[str]
) -> None:
    homes = settings.homes
    c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
    c.JupyterHub.hub_connect_ip = internal_ip
    c.DockerSpawner.image = settings.image
    c.DockerSpawner.network_name = settings.docker_network
    c.DockerSpawner.use_internal_ip = False  # the proxy reaches each container through 127.0.0.1:<port>
    c.DockerSpawner.host_ip = "127.0.0.1"
    c.DockerSpawner.remove = True  # the learner's files live in the mounted folder, not the container
    c.DockerSpawner.prefix = "tourlab"
    c.DockerSpawner.volumes = {str(homes / "{raw_username}"): IMAGE_WORK_DIR}
    c.DockerSpawner.notebook_dir = IMAGE_WORK_DIR
    c.DockerSpawner.mem_limit = settings.mem_limit
    c.DockerSpawner.cpu_limit = settings.cpu_limit
    c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
    c.Spawner.args = args
    c.Spawner.environment = {
        **learner_env,
        "TOURLAB_WORKSPACE": f"{IMAGE_WORK_DIR}/workspace",
        "TOURLAB_PROGRESS": f"{IMAGE_WORK_DIR}/.tourlab/progress.json",
    }
    c.Spawner.pre_spawn_hook = lambda spawner: prepare_home(homes / spawner.user.name, uid=IMAGE_UID)
