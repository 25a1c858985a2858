"""Regrade (./course hub regrade): the checks run again on learners' workspace files, in a worker.

Real workers, real Restate: each exercise gets a fresh lab in a child process (local spawner) or
in a container of the lab image (docker spawner, where a Docker engine answers). The results land
in the class's gradebook as verified, beside what the learners' kernels reported.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from support import eventually

from tourlab.course import EXERCISES, SECTIONS, Workspace
from tourlab.hub import regrade
from tourlab.hub.engine import docker_answers, ensure_lab_image
from tourlab.hub.gradebook import Attempt, Store, Verified, cells
from tourlab.hub.settings import default_image

pytestmark = pytest.mark.hub

IMAGE = os.environ.get("TOURLAB_HUB_IMAGE", default_image())
RESERVE_SKELETON_PROBLEM = "reserve returned True but left the 'status' state at None"
#: Appended to a learner's module: at import it tries the class folder's secrets and the hub's
#: variables, and stops the import with what it found (so the regrade's message carries it).
PROBE = """
import json as _json, os as _os
_seen = {{}}
for _path in {paths!r}:
    try:
        with open(_path) as _file:
            _seen[_path] = "READ " + _file.read().strip()
    except OSError as _error:
        _seen[_path] = type(_error).__name__
_seen["hub variables"] = sorted(k for k in _os.environ if k.startswith(("JUPYTERHUB_", "TOURLAB_HUB", "TOURLAB_CLASS")))
raise RuntimeError("PROBE " + _json.dumps(_seen) + " END")
"""


def chapter(home: Path, section: str, *solved: str) -> Workspace:
    """A learner's chapter folder as open_section makes it, with some exercises solved."""
    spec = next(s for s in SECTIONS if s.id == section)
    assert spec.start_from is not None
    workspace = Workspace(spec.workspace_name, start_from=spec.start_from, root=home / "workspace")
    workspace.ensure()
    for exercise_id in solved:
        exercise = EXERCISES[exercise_id]
        workspace.write(exercise.file, exercise.solution)
    return workspace


def run(class_dir: Path, *flags: str) -> str:
    out = io.StringIO()
    assert regrade.main(["--class-dir", str(class_dir), *flags], out=out) == 0
    return out.getvalue()


def verified(class_dir: Path) -> dict[tuple[str, str], Verified]:
    store = Store(class_dir / "gradebook.sqlite")
    try:
        return {(v.learner, v.exercise): v for v in store.verified()}
    finally:
        store.close()


def probe_result(message: str | None) -> dict[str, object]:
    found = re.search(r"PROBE (\{.*\}) END", message or "")
    assert found, message
    result: dict[str, object] = json.loads(found[1])
    return result


def class_with_secrets(tmp_path: Path) -> tuple[Path, list[str]]:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    secrets = []
    for name in ("jupyterhub_cookie_secret", "api-token"):
        (class_dir / name).write_text(f"secret-{name}\n")
        (class_dir / name).chmod(0o600)
        secrets.append(str(class_dir / name))
    return class_dir, secrets


# -- which exercises a regrade runs -------------------------------------------------------------------


def test_a_regrade_covers_opened_chapters_and_reported_exercises(tmp_path: Path) -> None:
    homes = tmp_path / "home"
    chapter(homes / "ada", "01")
    (homes / "bob" / "workspace").mkdir(parents=True)
    (homes / "instructor").mkdir()  # a server but no workspace: nothing to regrade
    assert regrade.plan(homes, [], []) == {"ada": ["checkout_calls_handle"]}
    # A pass posted for a chapter never opened is regraded too.
    assert regrade.plan(homes, [], [], {("bob", "reserve")}) == {"ada": ["checkout_calls_handle"], "bob": ["reserve"]}
    assert regrade.plan(homes, ["ada"], ["reserve", "unreserve"]) == {"ada": ["reserve", "unreserve"]}
    assert regrade.workspace_folder("reserve") == "s04_virtual_objects_and_state"


# -- the local spawner: a child process with a clean environment ---------------------------------------


def test_a_forged_pass_regrades_as_not_passed_and_a_right_workspace_as_passed(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    chapter(class_dir / "home" / "ada", "01", "checkout_calls_handle")
    chapter(class_dir / "home" / "cy", "04")  # the skeleton: reserve is not written yet
    store = Store(class_dir / "gradebook.sqlite")
    forged = Attempt("cy", "reserve", "04", True, None, None, 1.0)  # what a cell can post with cy's token
    store.add(forged)
    store.close()

    out = run(class_dir, "--spawner", "local", "--learner", "ada", "--learner", "cy")

    results = verified(class_dir)
    assert set(results) == {("ada", "checkout_calls_handle"), *(("cy", e) for e in SECTIONS[4].exercises)}
    assert results[("ada", "checkout_calls_handle")].passed is True
    assert results[("ada", "checkout_calls_handle")].solution_code is True  # apply_solution's code
    reserve = results[("cy", "reserve")]
    assert (reserve.passed, reserve.runner) == (False, "local")
    assert reserve.message is not None
    assert reserve.message.startswith(RESERVE_SKELETON_PROBLEM)
    assert reserve.solution_code is False
    assert re.search(r"^cy +reserve +not passed \(\d+\.\d s\): reserve returned True", out, re.MULTILINE)
    assert "Done in" in out

    table = cells([forged], results.values())
    cy = table[("cy", "reserve")]
    assert (cy.status, cy.verified_status, cy.disagrees) == ("passed", "not passed", True)
    assert table[("ada", "checkout_calls_handle")].disagrees is False


def test_the_solutions_code_is_recognised_whatever_its_layout(tmp_path: Path) -> None:
    exercise = EXERCISES["reserve"]
    module = tmp_path / "ticket_object.py"
    reformatted = exercise.solution.replace("async def reserve", "# my own words\nasync def reserve")
    module.write_text("from restate import VirtualObject\n\n" + reformatted.replace("    ", "        "))
    assert regrade.same_as_solution(module, exercise.solution) is True
    module.write_text(exercise.solution.replace("    return False", "    return status == RESERVED"))
    assert regrade.same_as_solution(module, exercise.solution) is False
    module.write_text("def reserve(:\n")
    assert regrade.same_as_solution(module, exercise.solution) is False


def test_the_gradebook_reads_results_as_json_lines(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    chapter(class_dir / "home" / "ada", "01")
    out = run(class_dir, "--spawner", "local", "--json-lines", "--exercise", "checkout_calls_handle")
    [line] = out.splitlines()
    result = Verified(**json.loads(line))
    assert (result.learner, result.exercise, result.passed) == ("ada", "checkout_calls_handle", False)
    assert result.message == "CartObject/checkout does not call CheckoutService/handle: its journal has no call entry."
    assert verified(class_dir) == {}  # the gradebook stores what is printed


def test_a_broken_or_missing_workspace_is_not_passed_with_the_reason(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    home = class_dir / "home" / "ada"
    broken = chapter(home, "01")
    (broken.path / "cart_object.py").write_text("def checkout(:\n")
    run(class_dir, "--spawner", "local", "--exercise", "checkout_calls_handle", "--exercise", "reserve")
    results = verified(class_dir)
    loads = results[("ada", "checkout_calls_handle")]
    assert loads.passed is False
    assert loads.message is not None
    assert loads.message.startswith("The workspace does not load:")
    assert "cart_object.py" in loads.message
    never = results[("ada", "reserve")]
    assert (never.passed, never.message) == (
        False,
        "workspace/s04_virtual_objects_and_state/ has no app.py: chapter 04 was never opened.",
    )


def test_under_the_local_spawner_the_regrade_runs_as_the_learners_own_code_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No hub variable reaches the worker, but it reads what the learner's kernel could read: the class folder."""
    class_dir, secrets = class_with_secrets(tmp_path)
    workspace = chapter(class_dir / "home" / "eve", "01")
    with (workspace.path / "app.py").open("a") as module:
        module.write(PROBE.format(paths=secrets))
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-gradebook-services-token")
    monkeypatch.setenv("TOURLAB_HUB_SETTINGS", "{}")
    run(class_dir, "--spawner", "local")
    seen = probe_result(verified(class_dir)[("eve", "checkout_calls_handle")].message)
    assert seen["hub variables"] == []
    assert all(str(seen[path]).startswith("READ secret-") for path in secrets)


def test_stopping_a_regrade_stops_its_workers_and_their_restate(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    workspace = chapter(class_dir / "home" / "ada", "01")
    with (workspace.path / "app.py").open("a") as module:
        module.write("import time\ntime.sleep(300)\n")  # the lab's Restate runs while the module loads
    command = [sys.executable, "-m", "tourlab.hub", "regrade", f"--class-dir={class_dir}", "--spawner=local"]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def started() -> list[psutil.Process]:
        found = psutil.Process(cli.pid).children(recursive=True)
        return found if any("restate-server" in p.name() for p in found) else []

    workers = eventually(started, timeout=60)
    assert workers, "no worker with its restate-server started"
    cli.send_signal(signal.SIGTERM)
    assert cli.wait(60) == 128 + signal.SIGTERM
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


# -- the docker spawner: a container of the lab image, only the workspace mounted -----------------------


@pytest.fixture(scope="module")
def lab_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not docker_answers():
        pytest.skip("no Docker engine answers here (docker info failed)")
    ensure_lab_image(IMAGE, tmp_path_factory.mktemp("images"), refresh=True)  # this checkout's code
    return IMAGE


@pytest.mark.docker
def test_in_a_container_the_regraded_code_cannot_read_the_class_secrets(
    lab_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class_dir, secrets = class_with_secrets(tmp_path)
    workspace = chapter(class_dir / "home" / "eve", "01")
    with (workspace.path / "app.py").open("a") as module:
        module.write(PROBE.format(paths=secrets))
    chapter(class_dir / "home" / "ada", "01", "checkout_calls_handle")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "the-gradebook-services-token")

    run(class_dir, "--spawner", "docker", "--image", lab_image)

    results = verified(class_dir)
    probe = results[("eve", "checkout_calls_handle")]
    assert (probe.passed, probe.runner) == (False, "docker")
    seen = probe_result(probe.message)
    assert seen["hub variables"] == []
    assert all(seen[path] == "FileNotFoundError" for path in secrets)  # the class folder is not there
    assert all("secret-" not in str(value) for value in seen.values())
    assert results[("ada", "checkout_calls_handle")].passed is True  # the right workspace passes in a container
    import docker

    client = docker.from_env()
    left = client.containers.list(all=True, filters={"label": regrade.CONTAINER_LABEL})
    client.close()
    assert left == []
