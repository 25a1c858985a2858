"""./course hub's flags, the JupyterHub configuration they produce, and how scripts read a cell (no hub here).

test_hub.py runs this configuration for real; these tests pin what must not change unnoticed:
loopback by default, one folder per learner, the roles, and the settings handed to the hub.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from tourlab._config import PROJECT_ROOT
from tourlab.hub import __main__ as hub_main
from tourlab.hub import config
from tourlab.hub.gradebook import POST_SCOPE, READ_SCOPE, REGRADE_ENV
from tourlab.hub.remote import Execution, HubError
from tourlab.hub.settings import HubSettings, parse_args

pytestmark = pytest.mark.hub


def test_the_hub_listens_on_loopback_unless_told_otherwise() -> None:
    settings = parse_args([], environ={})
    assert (settings.ip, settings.port, settings.spawner, settings.admins, settings.trusted_class) == (
        "127.0.0.1",
        8000,
        "auto",  # docker when an engine answers
        ("instructor",),
        False,
    )
    assert settings.class_dir == PROJECT_ROOT / ".tourlab" / "class"


def test_flags_win_over_variables_which_win_over_defaults(tmp_path: Path) -> None:
    env = {"TOURLAB_HUB_PORT": "9000", "TOURLAB_HUB_ADMINS": "ann,bea", "TOURLAB_CLASS_DIR": str(tmp_path)}
    from_env = parse_args([], environ=env)
    assert (from_env.port, from_env.admins, from_env.class_dir) == (9000, ("ann", "bea"), tmp_path)
    flags = parse_args(["--port", "9100", "--admin", "cat", "--ip", "0.0.0.0"], environ=env)
    assert (flags.port, flags.admins, flags.ip) == (9100, ("cat",), "0.0.0.0")


def test_settings_reach_the_config_file_intact(tmp_path: Path) -> None:
    settings = parse_args(["--class-dir", str(tmp_path), "--roster", str(tmp_path / "r.txt")], environ={}).with_ports()
    assert 0 not in (settings.hub_port, settings.proxy_api_port, settings.gradebook_port)
    assert HubSettings.from_json(settings.to_json()) == settings


@pytest.fixture
def local(tmp_path: Path) -> tuple[Config, HubSettings]:
    settings = HubSettings(class_dir=tmp_path / "class", admins=("teach",), spawner="local").with_ports()
    c = Config()
    config.configure(c, settings)
    return c, settings


def test_every_address_is_loopback_and_every_file_is_in_the_class_folder(local: tuple[Config, HubSettings]) -> None:
    c, settings = local
    assert c.JupyterHub.ip == c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    gradebook = next(s for s in c.JupyterHub.services if s["name"] == "gradebook")
    assert gradebook["url"] == f"http://127.0.0.1:{settings.gradebook_port}"
    for path in (c.JupyterHub.cookie_secret_file, c.FirstUseAuthenticator.dbm_path, c.JupyterHub.pid_file):
        assert Path(path).parent == settings.class_dir
    assert c.JupyterHub.db_url == f"sqlite:///{settings.class_dir / 'jupyterhub.sqlite'}"
    assert (settings.class_dir / "api-token").stat().st_mode & 0o077 == 0


def test_each_learner_gets_their_own_folder_and_the_gradebook_url(local: tuple[Config, HubSettings]) -> None:
    c, settings = local
    assert c.JupyterHub.spawner_class == "jupyterhub.spawner.SimpleLocalProcessSpawner"
    home = settings.homes / "ada"
    spawner = SimpleNamespace(home_dir=str(home), user=SimpleNamespace(name="ada"))
    env = {k: v(spawner) if callable(v) else v for k, v in c.Spawner.environment.items()}
    assert env["TOURLAB_HOME"] == str(home / ".tourlab")
    assert env["TOURLAB_WORKSPACE"] == str(home / "workspace")
    assert env["TOURLAB_PROGRESS"] == str(home / ".tourlab" / "progress.json")
    assert env["TOURLAB_GRADEBOOK_URL"] == f"http://127.0.0.1:{settings.gradebook_port}/services/gradebook"
    assert env["PATH"].split(":")[0] == str(Path(sys.prefix) / "bin")
    assert c.SimpleLocalProcessSpawner.home_dir_template == str(settings.homes / "{username}")


def test_kernel_sockets_live_in_a_short_private_folder_removed_with_the_last_learner(
    local: tuple[Config, HubSettings],
) -> None:
    c, settings = local
    assert "--KernelManager.transport=ipc" in c.Spawner.args
    learners = {
        name: SimpleNamespace(home_dir=str(settings.homes / name), user=SimpleNamespace(name=name))
        for name in ("ada", "bob")
    }
    folders = {name: Path(c.Spawner.environment["JUPYTER_RUNTIME_DIR"](s)) for name, s in learners.items()}
    assert len(str(folders["ada"] / "kernel-00000000-0000-0000-0000-000000000000-ipc-4")) < 100  # socket path limit
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / "kernel.json").write_text("{}")
    c.Spawner.post_stop_hook(learners["ada"])
    assert not folders["ada"].exists()
    assert folders["bob"].is_dir()
    c.Spawner.post_stop_hook(learners["bob"])
    assert not folders["bob"].parent.exists()


def test_roles_let_servers_post_and_only_instructors_read(local: tuple[Config, HubSettings]) -> None:
    c, _ = local
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert POST_SCOPE in roles["user"]["scopes"]
    assert POST_SCOPE in c.Spawner.server_token_scopes
    assert READ_SCOPE not in roles["user"]["scopes"]
    assert roles["instructor"]["users"] == ["teach"]
    assert READ_SCOPE in roles["instructor"]["scopes"]
    assert READ_SCOPE in c.JupyterHub.custom_scopes
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")
    assert "--timeout=3600" in culler["command"]
    assert set(roles["idle-culler"]["scopes"]) >= {"list:users", "read:users:activity", "delete:servers"}


def test_a_learners_folder_gets_the_notebooks_once(tmp_path: Path) -> None:
    home = tmp_path / "ada"
    config.prepare_home(home)
    notebook = home / "notebooks" / "00_getting_started.ipynb"
    assert sorted(p.name for p in (home / "notebooks").iterdir()) == sorted(
        p.name for p in (PROJECT_ROOT / "notebooks").glob("*.ipynb")
    )
    notebook.write_text('{"edited": true}')
    config.prepare_home(home)
    assert json.loads(notebook.read_text()) == {"edited": True}  # never overwritten
    tracker = home / ".jupyter/lab/user-settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
    assert json.loads(tracker.read_text()) == {"kernelShutdown": True}


def test_instructors_get_a_first_password_once(tmp_path: Path) -> None:
    import dbm

    import bcrypt

    settings = HubSettings(class_dir=tmp_path, admins=("teach", "help"))
    created = config.seed_admin_passwords(settings)
    assert set(created) == {"teach", "help"}
    assert config.seed_admin_passwords(settings) == {}
    with dbm.open(str(tmp_path / "passwords.dbm"), "r") as db:
        assert bcrypt.checkpw(created["teach"].encode(), db[b"teach"])
    lines = (tmp_path / "instructor-passwords").read_text().splitlines()
    assert sorted(lines) == sorted(f"{name} {password}" for name, password in created.items())


def test_the_gradebook_regrades_with_the_hubs_spawner_and_image(local: tuple[Config, HubSettings]) -> None:
    c, settings = local
    gradebook = next(s for s in c.JupyterHub.services if s["name"] == "gradebook")
    command = json.loads(gradebook["environment"][REGRADE_ENV])
    assert command == [
        sys.executable, "-m", "tourlab.hub", "regrade", f"--class-dir={settings.class_dir}",
        "--spawner=local", f"--image={settings.image}", "--json-lines",
    ]  # fmt: skip


def test_a_local_hub_beyond_loopback_needs_the_trusted_class_flag(tmp_path: Path) -> None:
    flags = ["--class-dir", str(tmp_path / "class"), "--spawner", "local", "--ip", "0.0.0.0"]
    with pytest.raises(SystemExit, match="pass --trusted-class if you trust everyone"):
        hub_main.main(flags)
    assert parse_args([*flags, "--trusted-class"], environ={}).trusted_class is True
    assert parse_args(flags, environ={"TOURLAB_HUB_TRUSTED_CLASS": "yes"}).trusted_class is True
    warning = hub_main.local_warning(parse_args(flags, environ={}))
    assert "read and change every other learner's files" in warning
    assert "cookie secret, tokens and password hashes" in warning


def test_a_roster_is_one_name_a_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.txt"
    roster.write_text("ada\n\nBob  # co-instructor\n# nobody\n")
    assert config.read_roster(roster) == {"ada", "bob"}


def test_a_cells_printed_answer_is_read_from_stdout_alone() -> None:
    warning = {"output_type": "stream", "name": "stderr", "text": "UserWarning: slow start\n"}
    shown = {"output_type": "display_data", "data": {"text/plain": "<Markdown>"}}
    answer = {"output_type": "stream", "name": "stdout", "text": "progress…\n[1.5, 2]\n"}
    assert Execution([warning, shown, answer]).printed_json() == [1.5, 2]
    with pytest.raises(HubError, match="UserWarning: slow start"):
        Execution([warning]).printed_json()
    with pytest.raises(HubError, match="NameError: x"):
        Execution([answer], error={"ename": "NameError", "evalue": "x", "traceback": []}).printed_json()
