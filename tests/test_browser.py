"""The course as a learner sees it: JupyterLab in headless Chromium, driven by Playwright."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tourlab._config import PROJECT_ROOT
from tourlab._ports import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("TOURLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
ARTIFACTS = PROJECT_ROOT / "artifacts" / "browser"
CELL_TIMEOUT_MS = 90_000


class JupyterLab:
    """A JupyterLab server on a random port serving a scratch copy of the notebooks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.log = (ARTIFACTS / "jupyterlab.log").open("w")
        settings = root / ".lab-settings"
        # The course's JupyterLab defaults (binder/overrides.json), as the learner's settings, plus:
        # render every cell (no virtual scrolling), so outputs far down the notebook are real DOM.
        chosen = json.loads((PROJECT_ROOT / "binder" / "overrides.json").read_text())
        chosen.setdefault("@jupyterlab/notebook-extension:tracker", {})["windowingMode"] = "none"
        for plugin, values in chosen.items():
            package, name = plugin.split(":")
            target = settings / package / f"{name}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=root,
            env={
                **os.environ,
                # Settings, workspaces (the open tabs) and config of their own: nothing of a test run is
                # left in ~/.jupyter for the learner's next ./course, nor read from there.
                "JUPYTERLAB_SETTINGS_DIR": str(settings),
                "JUPYTERLAB_WORKSPACES_DIR": str(root / ".lab-workspaces"),
                "JUPYTER_CONFIG_DIR": str(root / ".jupyter-config"),
                # Keep the learner's real workspace and progress untouched by the browser run.
                "TOURLAB_WORKSPACE": str(root / "workspace"),
                "TOURLAB_PROGRESS": str(root / "progress.json"),
            },
        )  # fmt: skip
        self._wait_ready()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/lab/tree/{path}?token={self.token}&reset"

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"jupyter lab exited early; see {ARTIFACTS / 'jupyterlab.log'}")
            try:
                if httpx.get(f"{self.base_url}/api/status?token={self.token}").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"jupyter lab did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        # Shut kernels down through the API first so each kernel stops its own Restate.
        try:
            for kernel in httpx.get(f"{self.base_url}/api/kernels?token={self.token}").json():
                httpx.delete(f"{self.base_url}/api/kernels/{kernel['id']}?token={self.token}", timeout=10)
        except httpx.HTTPError:
            pass
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    root = tmp_path_factory.mktemp("lab-root")
    # A copy, so the browser's autosave never rewrites the committed notebooks.
    shutil.copytree(PROJECT_ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    server = JupyterLab(root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. Install it with `apt-get install chromium` "
            "(./course test does this as root on Debian) or set TOURLAB_CHROMIUM to its path."
        )
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        except Error as error:
            pytest.fail(f"Chromium at {CHROMIUM} could not start: {error}")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, jupyterlab: JupyterLab, request: pytest.FixtureRequest):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"), full_page=False)
    context.close()


def open_notebook(page, jupyterlab: JupyterLab, name: str) -> None:
    page.goto(jupyterlab.url(f"notebooks/{name}"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=60_000)
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle'; }",
        timeout=60_000,
    )


def run_all_cells(page) -> None:
    """Run All and wait until every code cell ran (a Run All that stopped on the way times out)."""
    # Stored outputs carry execution counts: clear them, so that a count means "ran in this round".
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # Done when every code cell has an execution count and the kernel is idle.
    page.wait_for_function(
        "() => { const nb = window.jupyterapp.shell.currentWidget;"
        " const cells = nb.content.widgets.filter(c => c.model.type === 'code');"
        " const busy = nb.sessionContext.session.kernel.status !== 'idle';"
        " return !busy && cells.every(c => c.model.executionCount !== null); }",
        timeout=CELL_TIMEOUT_MS * 3,
        polling=500,
    )


def cell_outputs(page, source_part: str) -> list[str]:
    """The text of the outputs of every code cell whose source contains `source_part`."""
    return page.evaluate(
        "(part) => window.jupyterapp.shell.currentWidget.content.widgets"
        ".filter(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(part))"
        ".map(c => { const texts = []; const m = c.model.outputs;"
        " for (let i = 0; i < m.length; i++) { const o = m.get(i).toJSON();"
        " const d = o.data || {}; texts.push(o.text || d['text/plain'] || ''); }"
        " return [].concat(...texts.map(t => Array.isArray(t) ? t : [t])).join(''); })",
        source_part,
    )


def error_outputs(page) -> list[str]:
    """Errors raised by any cell: none, since the course shows its errors instead of raising them."""
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets"
        ".filter(c => c.model.type === 'code')"
        ".flatMap(c => { const outs = []; const m = c.model.outputs;"
        " for (let i = 0; i < m.length; i++) { const o = m.get(i).toJSON();"
        " if (o.output_type === 'error') outs.push(o.ename + ': ' + o.evalue); } return outs; })"
    )


def test_getting_started_runs_top_to_bottom_and_reserves_a_seat(page, jupyterlab: JupyterLab):
    open_notebook(page, jupyterlab, "00_getting_started.ipynb")
    run_all_cells(page)

    assert error_outputs(page) == []
    first_call = page.locator(".jp-OutputArea-output", has_text=re.compile(r"^True$")).first
    first_call.scroll_into_view_if_needed()
    assert first_call.is_visible()
    page.screenshot(path=str(ARTIFACTS / "getting_started.png"))
    # The Markdown picture of a call's path is drawn: JupyterLab renders ```mermaid blocks as SVG images.
    diagram = page.locator(".jp-RenderedMermaid img").first
    diagram.scroll_into_view_if_needed(timeout=30_000)
    assert diagram.is_visible()
    assert "Ingress" in (diagram.get_attribute("src") or "")


def _fill(page, label: str, value: str) -> None:
    field = page.locator(".widget-text", has_text=label).locator("input").first
    field.fill(value)
    field.press("Enter")


def _panel_shows(page, text: str, *, within: str = ".widget-html", timeout: int = 30_000) -> None:
    page.locator(within, has_text=text).first.wait_for(timeout=timeout)


def _click_tab(page, title: str) -> None:
    page.locator(".lm-TabBar-tab", has_text=title).first.click()


def test_panel_buttons_reserve_then_sell_a_seat(page, jupyterlab: JupyterLab):
    open_notebook(page, jupyterlab, "07_tracing.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == []
    invoke_bar = page.locator(".widget-vbox", has_text="Invoke").filter(
        has=page.locator("button", has_text="addTicket")
    )
    invoke_bar.first.scroll_into_view_if_needed()

    # The bar's first click, as it comes: its default seat is free in a fresh 07, so the answer is true.
    page.locator("button", has_text="addTicket").first.click()
    _panel_shows(page, 'CartObject/Mary/addTicket("seat2D") → true')

    _fill(page, "user", "Zoe")
    _fill(page, "seat", "seat9Z")
    page.locator("button", has_text="addTicket").first.click()

    _panel_shows(page, "TicketObject/seat9Z/reserve")  # the journal's call entry
    _panel_shows(page, '"RESERVED"')  # the state panel's ticket
    _panel_shows(page, '"seat9Z"')  # the state panel's cart
    invoke_bar.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "panels-reserved.jpg"), quality=60)

    page.locator("button", has_text="checkout").first.click()

    _panel_shows(page, '"SOLD"')
    cart = page.locator(".widget-html", has_text="CartObject/Zoe").filter(has_text="no state").first
    cart.wait_for(timeout=30_000)
    assert "seat9Z" not in (cart.text_content() or "")
    page.screenshot(path=str(ARTIFACTS / "panels-sold.png"))

    # Journal | Trace share one place: the checkout's waterfall shows once the Trace tab is chosen.
    _click_tab(page, "Trace")
    waterfall = page.locator(".widget-html", has_text="invocation-attempt").filter(has_text="CartObject/Zoe/checkout")
    waterfall.last.wait_for(state="visible", timeout=30_000)
    assert "service.name=Restate" in (waterfall.last.text_content() or "")
    waterfall.last.screenshot(path=str(ARTIFACTS / "panels-trace.png"))


def test_tracing_notebook_draws_a_waterfall(page, jupyterlab: JupyterLab):
    open_notebook(page, jupyterlab, "07_tracing.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == []

    waterfall = page.locator(".jp-OutputArea-output", has_text="invocation-attempt").first
    waterfall.scroll_into_view_if_needed()
    text = waterfall.text_content() or ""
    assert "ingress" in text
    assert "invocation-attempt" in text
    waterfall.screenshot(path=str(ARTIFACTS / "tracing-waterfall.png"))


#: A learner's own expireTicket, written differently from the reference solution.
LEARNERS_EXPIRE_TICKET = """\
@cart.handler("expireTicket")
async def expire_ticket(ctx: ObjectContext, ticket_id: str) -> None:
    tickets = await ctx.get("tickets", type_hint=list[str]) or []
    if ticket_id not in tickets:
        return
    tickets.remove(ticket_id)
    ctx.set("tickets", tickets)
    ctx.object_send(unreserve, key=ticket_id, arg=None)
"""


def _replace_function(source: str, name: str, replacement: str) -> str:
    """`source` with the function `name` (decorators included) replaced, as an editor edit would."""
    import ast

    [found] = [n for n in ast.parse(source).body if isinstance(n, ast.AsyncFunctionDef) and n.name == name]
    first = min([found.lineno, *(d.lineno for d in found.decorator_list)])
    lines = source.splitlines(keepends=True)
    return "".join([*lines[: first - 1], replacement, *lines[found.end_lineno or first :]])


def _activate(page, path: str) -> None:
    """Open (or bring to the front) a document and wait until it is the current widget."""
    page.evaluate("async (path) => { await window.jupyterapp.commands.execute('docmanager:open', {path}); }", path)
    page.wait_for_function(
        "(path) => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.context && w.context.path === path && w.context.isReady; }",
        arg=path,
        timeout=60_000,
    )


def test_run_all_again_after_solving_an_exercise_in_the_editor(page, jupyterlab: JupyterLab):
    from support import eventually

    notebook = "notebooks/04_virtual_objects_and_state.ipynb"
    open_notebook(page, jupyterlab, "04_virtual_objects_and_state.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == []
    assert cell_outputs(page, 'section.check("expire_ticket")')[0].startswith("NOT YET")

    # Solve expire_ticket as a learner does: the workspace file in JupyterLab's editor, changed and saved.
    path = "workspace/s04_virtual_objects_and_state/cart_object.py"
    _activate(page, path)
    current = "window.jupyterapp.shell.currentWidget.content.model.sharedModel"
    original = page.evaluate(f"() => {current}.getSource()")
    solved = _replace_function(original, "expire_ticket", LEARNERS_EXPIRE_TICKET)
    page.evaluate(f"(text) => {current}.setSource(text)", solved)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    on_disk = jupyterlab.root / path
    assert eventually(lambda: on_disk.read_text() == solved, timeout=30), "the editor did not save the file"
    page.screenshot(path=str(ARTIFACTS / "exercise-solved-in-editor.png"))

    # Run All again: every cell runs (the exercise cell does not stop the run) and keeps the learner's version.
    _activate(page, notebook)
    run_all_cells(page)
    assert error_outputs(page) == []
    [header] = cell_outputs(page, 'open_section("04_virtual_objects_and_state")')
    assert "kept from last time, with your own expire_ticket" in header
    [exercise] = cell_outputs(page, "TODO: release the seat only if it is still in this cart")
    assert "Kept your version of expire_ticket (not the exercise's starting code)" in exercise
    [check] = cell_outputs(page, 'section.check("expire_ticket")')
    assert check.startswith("PASSED"), check
    assert on_disk.read_text() == solved  # the cell did not overwrite the file
    [done] = cell_outputs(page, "section.done()")
    assert "expire_ticket: passed" in done
    page.screenshot(path=str(ARTIFACTS / "exercise-kept-after-run-all.png"))

    # A typo saved in the editor: Run All still reaches the last cell; the first cell says where the typo
    # is and serves the last version that loaded, and nothing claims the exercise passed in this run.
    _activate(page, path)
    typo = solved.replace("    if ticket_id not in tickets:", "    if ticket_id not in tickets")
    page.evaluate(f"(text) => {current}.setSource(text)", typo)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    assert eventually(lambda: on_disk.read_text() == typo, timeout=30), "the editor did not save the file"
    _activate(page, notebook)
    run_all_cells(page)
    assert error_outputs(page) == []
    [header] = cell_outputs(page, 'open_section("04_virtual_objects_and_state")')
    assert "✘ Your handler code did not load" in header
    assert "cart_object.py, line" in header
    [done] = cell_outputs(page, "section.done()")
    assert "expire_ticket: not passed yet in this run" in done
    assert on_disk.read_text() == typo  # the learner's file, typo and all, is untouched
    # JupyterLab keeps this test's layout in the test's own folder, never in ~/.jupyter (the learner's).
    assert eventually(lambda: list((jupyterlab.root / ".lab-workspaces").glob("*.jupyterlab-workspace")), timeout=30)


def _servers_of_kernels(jupyterlab: JupyterLab) -> set[int]:
    import psutil

    lab_server = psutil.Process(jupyterlab.process.pid)
    return {
        child.pid for kernel in lab_server.children() for child in kernel.children() if child.name() == "restate-server"
    }


def test_restarting_the_kernel_leaves_no_restate_server_behind(page, jupyterlab: JupyterLab):
    from support import eventually

    earlier = _servers_of_kernels(jupyterlab)  # kernels of other scenarios keep theirs
    open_notebook(page, jupyterlab, "00_getting_started.ipynb")
    run_all_cells(page)
    servers = eventually(lambda: _servers_of_kernels(jupyterlab) - earlier)
    assert servers, "the notebook's kernel started no restate-server"

    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")

    import psutil

    assert eventually(lambda: not any(psutil.pid_exists(pid) for pid in servers), timeout=30), (
        "a restate-server outlived its kernel's restart"
    )


def test_a_reopened_notebook_shows_its_panels_as_they_were(page, jupyterlab: JupyterLab):
    """Widget state is saved with the notebook (the course's default): reopened after its kernel is
    gone, a panel shows as it was, not "Error displaying widget: model not found"."""
    open_notebook(page, jupyterlab, "07_tracing.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == []
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    saved = jupyterlab.root / "notebooks" / "07_tracing.ipynb"
    from support import eventually

    assert eventually(lambda: "application/vnd.jupyter.widget-state+json" in saved.read_text(), timeout=30)
    # Its kernel is gone (closed, culled or restarted: nothing of the panels is left in any kernel),
    # then the notebook is opened again.
    params = {"token": jupyterlab.token}
    for kernel in httpx.get(f"{jupyterlab.base_url}/api/kernels", params=params).json():
        httpx.delete(f"{jupyterlab.base_url}/api/kernels/{kernel['id']}", params=params, timeout=30)
    open_notebook(page, jupyterlab, "07_tracing.ipynb")
    page.locator(".jupyter-widgets", has_text="Invoke").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "reopened-panels.png"))
    assert page.locator("text=model not found").count() == 0
