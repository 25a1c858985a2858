"""The classroom hub for real: ./course hub, its proxy, learners' servers and kernels with their
own Restate, the gradebook behind the hub's OAuth, and a hub restart.

One hub serves the whole module (a temporary class folder, free loopback ports). Three learners
run the getting-started notebook and the first exercise through their servers' kernel API.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from support import eventually

from tourlab._config import PROJECT_ROOT
from tourlab.course import Workspace
from tourlab.hub.launch import HubProcess
from tourlab.hub.remote import HubClient, HubError

pytestmark = pytest.mark.hub

ARTIFACTS = PROJECT_ROOT / "artifacts" / "hub"
#: A class of five (in the gradebook's order, by name); cy stays stuck on the exercise. Small: the machine is shared.
LEARNERS = ("ada", "bob", "cy", "dan", "eve")
PASSING = tuple(learner for learner in LEARNERS if learner != "cy")
EXERCISE = "checkout_calls_handle"
FIRST_FAILURE = "CartObject/checkout does not call CheckoutService/handle: its journal has no call entry."
RESERVE_SKELETON_PROBLEM = "reserve returned True but left the 'status' state at None"
T = TypeVar("T")
CHROMIUM = Path(os.environ.get("TOURLAB_CHROMIUM", "/usr/bin/chromium"))

# What Section.check will do on the hub: check, then report. Until the course's section module
# reports by itself, the cell reports explicitly (never twice).
SETUP_01 = """
import inspect, json
import tourlab.course.section
from tourlab.course import open_section
from tourlab.course.report import report_check, wait_for_reports

section = open_section("01_invoking_handlers", show=False)
reports_itself = "report_check" in inspect.getsource(tourlab.course.section)

def check_and_report(exercise_id):
    result = section.check(exercise_id)
    if not reports_itself:
        report_check(exercise_id, section.spec.id, result.ok, result.problem)
    return {"ok": result.ok, "problem": result.problem, "delivered": wait_for_reports(10)}
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "hub.log"
    log.unlink(missing_ok=True)
    # The local spawner, as on a machine without Docker (test_hub_docker.py runs the docker one).
    running = HubProcess(tmp_path_factory.mktemp("class"), log, "--spawner", "local").start()
    yield running
    leftovers = running.stop()
    assert not leftovers, f"processes left running after the hub stopped: {leftovers}"


@pytest.fixture(scope="module")
def api(hub: HubProcess) -> Iterator[HubClient]:
    client = hub.client()
    yield client
    client.close()


def run_check(api: HubClient, learner: str, *, solve: bool) -> dict[str, object]:
    with api.notebook(learner, "notebooks/01_invoking_handlers.ipynb") as kernel:
        kernel.execute(SETUP_01).raise_for_error()
        if solve:
            kernel.execute(f"section.apply_solution({EXERCISE!r})").raise_for_error()
        result: dict[str, object] = kernel.execute(f"print(json.dumps(check_and_report({EXERCISE!r})))").printed_json()
    return result


def login(url: str, name: str, password: str) -> httpx.Response:
    """Log in through the hub's login form (FirstUseAuthenticator), as a browser does."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as browser:
        browser.get("/hub/login")
        form = {"username": name, "password": password, "_xsrf": browser.cookies.get("_xsrf", "")}
        return browser.post("/hub/login?next=/hub/home", data=form)


def instructor_password(hub: HubProcess) -> str:
    line = (hub.class_dir / "instructor-passwords").read_text().splitlines()[0]
    name, password = line.split()
    assert name == "instructor"
    return password


# -- learners, their servers and the gradebook ------------------------------------------------------


def for_each_learner(hub: HubProcess, learners: tuple[str, ...], work: Callable[[HubClient, str], T]) -> dict[str, T]:
    """Run `work` for every learner at once, as a class does; each learner has a client of their own."""

    def one(learner: str) -> T:
        with contextlib.closing(hub.client()) as client:
            return work(client, learner)

    with ThreadPoolExecutor(len(learners)) as pool:
        return dict(zip(learners, pool.map(one, learners), strict=True))


def first_notebook(api: HubClient, learner: str) -> tuple[str, str]:
    api.create_user(learner)
    api.start_server(learner)
    with api.notebook(learner, "notebooks/00_getting_started.ipynb") as kernel:
        where = kernel.execute("import os; print(os.getcwd()); print(os.environ['TOURLAB_HOME'])").text
        cells = kernel.run_notebook(PROJECT_ROOT / "notebooks" / "00_getting_started.ipynb")
    return where, cells[1].text


def test_learners_run_the_course_on_their_own_servers(hub: HubProcess) -> None:
    for learner, (where, first_call) in for_each_learner(hub, LEARNERS, first_notebook).items():
        home = hub.class_dir / "home" / learner
        assert where.splitlines() == [str(home / "notebooks"), str(home / ".tourlab")]
        assert first_call == "True", "the first addTicket call of the notebook"

    first = for_each_learner(hub, LEARNERS, lambda api, learner: run_check(api, learner, solve=False))
    assert first == {key: {"ok": False, "problem": FIRST_FAILURE, "delivered": True} for key in LEARNERS}
    second = for_each_learner(hub, PASSING, lambda api, learner: run_check(api, learner, solve=True))
    assert second == {key: {"ok": True, "problem": None, "delivered": True} for key in PASSING}

    for learner in LEARNERS:
        progress = json.loads((hub.class_dir / "home" / learner / ".tourlab" / "progress.json").read_text())
        assert {"00", "01"} <= set(progress["sections"])
        assert ("passed_at" in progress["exercises"].get(EXERCISE, {})) == (learner in PASSING)


def test_each_learner_has_their_own_notebooks_and_workspace(hub: HubProcess, api: HubClient) -> None:
    homes = hub.class_dir / "home"
    assert sorted(p.name for p in homes.iterdir()) == sorted(LEARNERS)
    for learner in LEARNERS:
        # As on Binder, closing a notebook shuts its kernel (and that kernel's Restate) down.
        tracker = api.server(learner).request("GET", "lab/api/settings/@jupyterlab/notebook-extension:tracker")
        assert tracker["settings"]["kernelShutdown"] is True
        notebooks = sorted(p.name for p in (homes / learner / "notebooks").glob("*.ipynb"))
        assert notebooks == sorted(p.name for p in (PROJECT_ROOT / "notebooks").glob("*.ipynb"))
        cart = (homes / learner / "workspace" / "s01_invoking_handlers" / "cart_object.py").read_text()
        calls_handle = "ctx.service_call(handle" in cart.split("def checkout", 1)[1]
        assert calls_handle == (learner in PASSING), learner


def test_the_gradebook_shows_every_learner_and_what_they_are_stuck_on(api: HubClient) -> None:
    summary = api.gradebook().json()
    assert summary["learners"] == list(LEARNERS)  # the instructor (an admin) is not a learner
    cells = {(c["learner"], c["exercise"]): c for c in summary["cells"]}
    for learner in LEARNERS:
        cell = cells[(learner, EXERCISE)]
        assert cell["status"] == ("passed" if learner in PASSING else "not yet")
        assert cell["attempts"] == (2 if learner in PASSING else 1)
        assert cell["solution_applied"] == (learner in PASSING)  # they passed after apply_solution
        assert (cell["verified"], cell["disagree"]) == (None, False)  # nothing regraded yet
    assert summary["stuck"][EXERCISE][0] == {
        "message": FIRST_FAILURE,
        "stuck_now": 1,
        "learners": len(LEARNERS),
        "attempts": len(LEARNERS),
    }

    csv_rows = api.gradebook("gradebook.csv").text.splitlines()
    assert csv_rows[0] == (
        "learner,exercise,section,self_reported,solution_applied,attempts,first_passed_at,last_attempt_at,"
        "last_message,verified,verified_at,verified_message,verified_solution_code,disagree"
    )
    assert any(re.match(rf"cy,{EXERCISE},01,not yet,,1,", row) for row in csv_rows)
    assert any(re.match(rf"ada,{EXERCISE},01,passed,yes,2,", row) for row in csv_rows)
    attempts = api.gradebook("attempts.csv").text.splitlines()
    assert len(attempts) == 1 + len(LEARNERS) + len(PASSING)  # header, a failure each, the passes


# -- the instructor in a browser ----------------------------------------------------------------------


@pytest.mark.browser
def test_instructor_logs_in_and_sees_the_gradebook(hub: HubProcess) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium, or set TOURLAB_CHROMIUM).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        page = browser.new_context(viewport={"width": 1400, "height": 560}).new_page()
        page.goto(f"{hub.url}/hub/login?next=/services/gradebook/")
        page.fill("#username_input", "instructor")
        page.fill("#password_input", instructor_password(hub))
        page.click("#login_submit")
        page.wait_for_selector("#gradebook")
        rows = page.locator("#gradebook tbody tr")
        names = [rows.nth(i).locator("th").inner_text().split("\n")[0] for i in range(rows.count())]
        first_row = rows.nth(0).inner_text()
        stuck = page.locator("#stuck").inner_text()
        page.screenshot(path=str(ARTIFACTS / "gradebook.png"), full_page=True)
        # The browser's OAuth cookie reads the exports but cannot post results (tokens only).
        csv_status = page.request.get(f"{hub.url}/services/gradebook/gradebook.csv").status
        forged = {"exercise": "reserve", "section": "04", "passed": True, "message": None, "at": None}
        post_status = page.request.post(f"{hub.url}/services/gradebook/api/results", data=forged).status
        browser.close()
    if os.environ.get("TOURLAB_UPDATE_DOC_IMAGES"):
        shutil.copy(ARTIFACTS / "gradebook.png", PROJECT_ROOT / "docs" / "images" / "gradebook.png")
    assert names == list(LEARNERS)
    assert "passed" in first_row
    assert FIRST_FAILURE in stuck
    assert (csv_status, post_status) == (200, 403)


def test_nobody_posts_for_someone_else_or_reads_the_gradebook_without_its_scope(
    hub: HubProcess, api: HubClient
) -> None:
    gradebook = f"{hub.url}/services/gradebook"
    cy = {"Authorization": f"token {api.token_for('cy')}"}
    forged = {"exercise": "reserve", "section": "04", "passed": True, "message": None, "at": None, "learner": "ada"}
    posted = httpx.post(f"{gradebook}/api/results", json=forged, headers=cy)
    assert posted.status_code == 201
    assert posted.json()["learner"] == "cy"  # the token decides, not the body

    assert httpx.post(f"{gradebook}/api/results", json=forged).status_code == 403
    assert httpx.post(f"{gradebook}/api/results", json={"exercise": 1}, headers=cy).status_code == 400
    assert httpx.get(f"{gradebook}/api/summary", headers=cy).status_code == 403
    assert httpx.get(f"{gradebook}/gradebook.csv", headers=cy).status_code == 403
    cells = {(c["learner"], c["exercise"]): c["status"] for c in api.gradebook().json()["cells"]}
    assert cells[("cy", "reserve")] == "passed"
    assert ("ada", "reserve") not in cells


def test_a_regrade_verifies_what_learners_reported(hub: HubProcess, api: HubClient) -> None:
    """cy posted a pass of `reserve` from a cell; run on her workspace, the check says otherwise."""
    cy_workspace = hub.class_dir / "home" / "cy" / "workspace"
    Workspace("s04_virtual_objects_and_state", start_from="tour/part2", root=cy_workspace).ensure()  # the skeleton

    one_learner = api.regrade(["cy"])
    assert (one_learner["results"], one_learner["error"]) == (5, None)  # chapter 01, and 04 with reserve in it
    whole_class = api.regrade(exercises=[EXERCISE])
    assert (whole_class["results"], whole_class["passed"], whole_class["error"]) == (len(LEARNERS), len(PASSING), None)

    cells = {(c["learner"], c["exercise"]): c for c in api.gradebook().json()["cells"]}
    forged = cells[("cy", "reserve")]
    assert (forged["status"], forged["verified"]["status"], forged["disagree"]) == ("passed", "not passed", True)
    assert forged["verified"]["message"].startswith(RESERVE_SKELETON_PROBLEM)
    assert forged["verified"]["runner"] == "local"
    for learner in LEARNERS:
        cell = cells[(learner, EXERCISE)]
        assert cell["verified"]["status"] == ("passed" if learner in PASSING else "not passed"), learner
        assert cell["verified"]["solution_code"] == (learner in PASSING)  # they applied the solution
        assert cell["disagree"] is False
    assert cells[("cy", EXERCISE)]["verified"]["message"] == FIRST_FAILURE

    rows = {(r["learner"], r["exercise"]): r for r in csv.DictReader(io.StringIO(api.gradebook("gradebook.csv").text))}
    row = rows[("cy", "reserve")]
    assert (row["self_reported"], row["verified"], row["disagree"]) == ("passed", "not passed", "yes")
    assert row["verified_message"].startswith(RESERVE_SKELETON_PROBLEM)
    attempts = api.gradebook("attempts.csv").text.splitlines()
    verified_rows = [row for row in attempts if ",verified," in row]
    assert len(verified_rows) == 5 + len(LEARNERS)


@pytest.mark.browser
def test_the_instructor_regrades_a_learner_from_the_page(hub: HubProcess, api: HubClient) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium, or set TOURLAB_CHROMIUM).")
    from playwright.sync_api import sync_playwright

    jobs_before = len(api.gradebook("api/regrade").json()["finished"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        page = browser.new_context(viewport={"width": 1400, "height": 700}).new_page()
        page.goto(f"{hub.url}/hub/login?next=/services/gradebook/")
        page.fill("#username_input", "instructor")
        page.fill("#password_input", instructor_password(hub))
        page.click("#login_submit")
        page.wait_for_selector("#gradebook")
        cy_row = page.locator("#gradebook tbody tr", has=page.locator("th", has_text="cy"))
        row_text = cy_row.inner_text()
        ada_row = page.locator("#gradebook tbody tr").nth(0).inner_text()
        page.screenshot(path=str(ARTIFACTS / "gradebook-regraded.png"), full_page=True)
        cy_row.locator("th form.regrade button").click()  # a form post, with the page's xsrf token
        page.wait_for_selector("#gradebook")
        browser.close()
    assert "self-reported ≠ verified" in row_text
    assert "verified not passed" in row_text
    assert "solution applied" in ada_row
    done = eventually(lambda: len(api.gradebook("api/regrade").json()["finished"]) > jobs_before, timeout=300)
    assert done, "the regrade started from the page did not finish"
    last = api.gradebook("api/regrade").json()["finished"][-1]
    assert (last["learners"], last["exercises"], last["error"]) == (["cy"], [], None)


def test_local_learners_can_reach_each_others_restate(api: HubClient) -> None:
    """The local spawner isolates nothing (docs/classroom.md says so): ada's kernel can call bob's Restate."""
    with api.notebook("bob", "notebooks/00_getting_started.ipynb") as bob:
        bob.execute("from tourlab import Lab\nlab = Lab.start('tour/app')").raise_for_error()
        admin_url = bob.execute("print(lab.admin_url)").text
        with api.notebook("ada", "notebooks/00_getting_started.ipynb") as ada:
            seen = ada.execute(f"import httpx; print(httpx.get({admin_url + '/health'!r}).status_code)").text
        bob.execute("lab.stop()")
    assert seen == "200"


# -- a restart keeps the class -------------------------------------------------------------------------


def test_a_hub_restart_keeps_users_passwords_work_and_results(hub: HubProcess, api: HubClient) -> None:
    password = instructor_password(hub)
    assert login(hub.url, "instructor", password).status_code == 302
    api.start_server("ada")  # running when the hub stops: it must stop with it
    before = api.gradebook().json()["cells"]

    leftovers = hub.stop()
    assert not leftovers, f"processes left running after the hub stopped: {leftovers}"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{hub.url}/hub/api/", timeout=5)

    hub.start()
    after = hub.client()
    try:
        assert {u["name"] for u in after.users()} == {"instructor", *LEARNERS}
        assert all(not u["servers"] for u in after.users())  # stopped with the hub, not orphaned
        assert after.gradebook().json()["cells"] == before
        assert login(hub.url, "instructor", password).status_code == 302
        assert login(hub.url, "instructor", password + "x").status_code != 302

        after.start_server("ada")
        assert run_check(after, "ada", solve=False)["ok"] is True  # her solution is still in her workspace
        cells = {(c["learner"], c["exercise"]): c for c in after.gradebook().json()["cells"]}
        assert cells[("ada", EXERCISE)]["attempts"] == 3
    finally:
        after.close()


def test_the_idle_culler_stops_idle_servers(tmp_path: Path) -> None:
    culled = HubProcess(tmp_path / "class", ARTIFACTS / "hub-culler.log", "--cull-timeout", "3", "--cull-every", "2")
    culled.start()
    try:
        client = culled.client()
        client.create_user("idle")
        client.start_server("idle")
        gone = eventually(lambda: not client.user("idle")["servers"], timeout=60, interval=0.5)
        assert gone, "the idle server was not culled"
        assert re.search(r"Culling server idle \(inactive for", culled.log_text())
        client.close()
    finally:
        leftovers = culled.stop()
    assert not leftovers


def test_a_bad_token_reaches_nothing(hub: HubProcess) -> None:
    bad = HubClient(hub.url, "not-a-token")
    with pytest.raises(HubError, match="403"):
        bad.users()
    bad.close()
