"""The isolated classroom: ./course hub where a Docker engine answers, one lab container per learner.

``./course hub`` picks the docker spawner by itself there. Learner A must not reach learner B's
Restate, B's JupyterLab, or B's files, while still reaching their own Restate and the gradebook.
Needs a Docker engine (skipped without one); the lab image (default ``tourlab-local/lab:<version>``,
or ``$TOURLAB_HUB_IMAGE``) is built when it is missing, as ``./course hub`` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import docker

from tourlab._config import PROJECT_ROOT
from tourlab.course import Workspace
from tourlab.hub.config import IMAGE_UID
from tourlab.hub.engine import docker_answers, ensure_lab_image
from tourlab.hub.launch import HubProcess
from tourlab.hub.remote import HubClient, RemoteKernel
from tourlab.hub.settings import default_image

pytestmark = [pytest.mark.docker, pytest.mark.hub]

IMAGE = os.environ.get("TOURLAB_HUB_IMAGE", default_image())
ARTIFACTS = PROJECT_ROOT / "artifacts" / "hub"

PROBE = """
import json, os, socket
from tourlab import Lab
lab = Lab.start("tour/app")

def connects(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False
"""


def image_problem(work_dir: Path) -> str | None:
    """Why the docker classroom cannot run here, or None; the lab image is built when missing."""
    if not docker_answers():
        return "no Docker engine answers here (docker info failed)"
    ensure_lab_image(IMAGE, work_dir, refresh=True)  # the code of this checkout
    ran = docker("run", "--rm", "--user", "1000", IMAGE, "jupyterhub-singleuser", "--version")
    if ran.returncode != 0:
        return f"{IMAGE} has no working jupyterhub-singleuser (install jupyterhub in the image): {ran.stderr}"
    return None


@pytest.fixture(scope="module")
def docker_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    problem = image_problem(tmp_path_factory.mktemp("images"))
    if problem:
        pytest.skip(problem)
    log = ARTIFACTS / "hub-docker.log"
    log.unlink(missing_ok=True)
    hub = HubProcess(tmp_path_factory.mktemp("class"), log, "--image", IMAGE).start()  # no --spawner: auto
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"processes left running after the hub stopped: {leftovers}"
    import docker

    client = docker.from_env()
    left = [c.name for c in client.containers.list(all=True) if c.name in ("tourlab-ana", "tourlab-ben")]
    client.close()
    assert not left, f"containers left after the hub stopped: {left}"


def container_ip(name: str, network: str = "tourlab-class") -> str:
    import docker

    client = docker.from_env()
    try:
        return str(client.containers.get(name).attrs["NetworkSettings"]["Networks"][network]["IPAddress"])
    finally:
        client.close()


def probe(kernel: RemoteKernel, code: str) -> object:
    return kernel.execute(f"print(json.dumps({code}))").printed_json()


def test_learners_in_containers_cannot_reach_each_other(docker_hub: HubProcess) -> None:
    assert "(spawner: docker," in docker_hub.log_text()  # isolated by default where Docker answers
    assert "WARNING: local spawner" not in docker_hub.log_text()
    api: HubClient = docker_hub.client()
    for learner in ("ana", "ben"):
        api.create_user(learner)
        api.start_server(learner)
    with (
        api.notebook("ben", "notebooks/00_getting_started.ipynb") as ben,
        api.notebook("ana", "notebooks/00_getting_started.ipynb") as ana,
    ):
        ben.execute(PROBE).raise_for_error()
        ana.execute(PROBE).raise_for_error()
        ben_ip = container_ip("tourlab-ben")
        ben_admin = int(str(probe(ben, "lab.admin_url")).rsplit(":", 1)[1])
        ben.execute("open(os.path.expanduser('~/work/secret.txt'), 'w').write('ben only')").raise_for_error()

        # Ana's own Restate and the gradebook work...
        assert probe(ana, "lab.call('CartObject', 'Mary', 'addTicket', 'seat2B')") is True
        ana.execute(
            "from tourlab.course.report import report_check, wait_for_reports\n"
            "report_check('reserve', '04', True, None); wait_for_reports(10)"
        ).raise_for_error()
        # ...but nothing of Ben's: not his Restate, not his JupyterLab, not his files.
        assert probe(ana, f"connects({ben_ip!r}, {ben_admin})") is False
        assert probe(ana, f"connects('127.0.0.1', {ben_admin})") is False
        assert probe(ana, f"connects({ben_ip!r}, 8888)") is False
        assert probe(ana, "sorted(os.listdir(os.path.expanduser('~/work')))") == sorted(
            p.name for p in (docker_hub.class_dir / "home" / "ana").iterdir()
        )
        assert probe(ana, "os.path.exists(os.path.expanduser('~/work/secret.txt'))") is False
        assert probe(ana, f"os.path.exists({str(docker_hub.class_dir)!r})") is False
        ana.execute("lab.stop()")
        ben.execute("lab.stop()")

    assert (docker_hub.class_dir / "home" / "ben" / "secret.txt").read_text() == "ben only"
    cells = {(c["learner"], c["exercise"]): c["status"] for c in api.gradebook().json()["cells"]}
    assert cells == {("ana", "reserve"): "passed"}
    api.close()


def test_the_gradebook_regrades_in_a_container(docker_hub: HubProcess) -> None:
    """Ana's posted pass of `reserve`, checked on her workspace (the skeleton) in a container of the lab image."""
    api = docker_hub.client()
    home = docker_hub.class_dir / "home" / "ana"
    Workspace("s04_virtual_objects_and_state", start_from="tour/part2", root=home / "workspace").ensure()
    for path in [home / "workspace", *(home / "workspace").rglob("*")]:
        os.chown(path, IMAGE_UID, IMAGE_UID)  # as her server would have written it
    job = api.regrade(["ana"], ["reserve"])
    assert (job["results"], job["passed"], job["error"]) == (1, 0, None)
    [cell] = [c for c in api.gradebook().json()["cells"] if (c["learner"], c["exercise"]) == ("ana", "reserve")]
    assert (cell["status"], cell["verified"]["status"], cell["verified"]["runner"], cell["disagree"]) == (
        "passed",
        "not passed",
        "docker",
        True,
    )
    assert cell["verified"]["message"].startswith("reserve returned True but left the 'status' state at None")
    api.close()
