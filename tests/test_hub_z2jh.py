"""deploy/z2jh/values.yaml: the Zero to JupyterHub set-up agrees with ./course hub and the course.

No cluster here: the file is loaded and its important keys are checked, so that the roles,
ports, paths and exercises cannot drift from the local hub's configuration.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from tourlab._config import PROJECT_ROOT
from tourlab.hub import config
from tourlab.hub.gradebook import POST_SCOPE, READ_SCOPE, SERVICE_NAME

pytestmark = pytest.mark.hub

VALUES = PROJECT_ROOT / "deploy" / "z2jh" / "values.yaml"


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(VALUES.read_text())
    return loaded


def quantity(text: str | float) -> float:
    """A Kubernetes quantity (``1G``, ``512M``, ``0.25``) as a number."""
    units = {"G": 1e9, "M": 1e6, "Gi": 2**30, "Mi": 2**20}
    for unit in sorted(units, key=len, reverse=True):
        if str(text).endswith(unit):
            return float(str(text)[: -len(unit)]) * units[unit]
    return float(text)


def test_learners_get_the_lab_image_with_guarantees_and_limits(values: dict[str, Any]) -> None:
    single = values["singleuser"]
    assert single["image"]["name"]
    assert single["image"]["tag"] not in ("", "latest")
    assert single["cmd"] == "jupyterhub-singleuser"
    assert single["defaultUrl"] == config.DEFAULT_URL
    assert quantity(single["memory"]["guarantee"]) <= quantity(single["memory"]["limit"])
    assert quantity(single["memory"]["limit"]) >= 2**30  # one notebook with its Restate and JupyterLab
    assert quantity(single["cpu"]["guarantee"]) <= quantity(single["cpu"]["limit"])
    assert single["extraEnv"]["TOURLAB_RUNTIME"] == "embedded"
    assert single["uid"] == config.IMAGE_UID


def test_the_learners_folder_is_their_volume(values: dict[str, Any]) -> None:
    single, spawner = values["singleuser"], values["hub"]["config"]["Spawner"]
    work = config.IMAGE_WORK_DIR
    assert single["storage"]["homeMountPath"] == spawner["notebook_dir"] == work
    assert single["extraEnv"]["TOURLAB_WORKSPACE"].startswith(work + "/")
    assert single["extraEnv"]["TOURLAB_PROGRESS"].startswith(work + "/")
    assert f"{work}/notebooks" in " ".join(single["lifecycleHooks"]["postStart"]["exec"]["command"])


def test_the_culler_is_on(values: dict[str, Any]) -> None:
    cull = values["cull"]
    assert cull["enabled"] is True
    assert 0 < cull["every"] <= cull["timeout"]


def test_the_gradebook_is_a_hub_service_with_the_local_hubs_roles(values: dict[str, Any]) -> None:
    hub = values["hub"]
    service = hub["services"][SERVICE_NAME]
    assert service["oauth_client_allowed_scopes"] == [READ_SCOPE]
    assert READ_SCOPE in hub["config"]["JupyterHub"]["custom_scopes"]
    assert hub["config"]["Spawner"]["server_token_scopes"] == config.SERVER_TOKEN_SCOPES
    roles = hub["loadRoles"]
    assert POST_SCOPE in roles["user"]["scopes"]
    assert set(roles["instructor"]["scopes"]) == {READ_SCOPE, POST_SCOPE}
    assert set(roles["instructor"]["users"]) == set(hub["config"]["Authenticator"]["admin_users"])
    assert roles["gradebook"]["services"] == [SERVICE_NAME]
    assert hub["config"]["JupyterHub"]["authenticator_class"] == "firstuseauthenticator.FirstUseAuthenticator"
    assert hub["config"]["Authenticator"]["username_pattern"] == config.USERNAME_PATTERN


def test_the_gradebook_file_is_mounted_and_runs_without_the_course(values: dict[str, Any]) -> None:
    hub = values["hub"]
    mounted = hub["extraFiles"]["gradebook"]["mountPath"]
    assert hub["services"][SERVICE_NAME]["command"][-1] == mounted
    assert hub["services"][SERVICE_NAME]["environment"]["TOURLAB_GRADEBOOK_DB"].startswith("/srv/jupyterhub/")
    # A hub pod has jupyterhub and tornado but not this repository: only a guarded, lazy tourlab import.
    tree = ast.parse((PROJECT_ROOT / "tourlab" / "hub" / "gradebook.py").read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not [n for n in top if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("tourlab")]


def test_the_gradebook_lists_the_course_exercises(values: dict[str, Any]) -> None:
    listed = json.loads(values["hub"]["services"][SERVICE_NAME]["environment"]["TOURLAB_GRADEBOOK_EXERCISES"])
    assert listed == json.loads(config.exercises_json())


def test_learners_and_the_proxy_reach_the_gradebook_port_and_nothing_else_is_opened(values: dict[str, Any]) -> None:
    hub = values["hub"]
    port = urlparse(hub["services"][SERVICE_NAME]["url"]).port
    posted_to = urlparse(values["singleuser"]["extraEnv"]["TOURLAB_GRADEBOOK_URL"])
    assert (posted_to.hostname, posted_to.port, posted_to.path) == ("hub", port, f"/services/{SERVICE_NAME}")
    assert [(p["port"], p["targetPort"]) for p in hub["service"]["extraPorts"]] == [(port, port)]
    assert [p["port"] for rule in hub["networkPolicy"]["ingress"] for p in rule["ports"]] == [port]
    for egress in (values["singleuser"]["networkPolicy"]["egress"], values["proxy"]["chp"]["networkPolicy"]["egress"]):
        assert [p["port"] for rule in egress for p in rule["ports"]] == [port]
        assert egress[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "hub"
    assert "egressAllowRules" not in values["singleuser"]["networkPolicy"]  # privateIPs stays off


def test_the_install_command_in_the_file_mounts_the_gradebook() -> None:
    text = VALUES.read_text()
    assert "--set-file hub.extraFiles.gradebook.stringData=tourlab/hub/gradebook.py" in text
    assert Path(PROJECT_ROOT / "tourlab" / "hub" / "gradebook.py").is_file()
