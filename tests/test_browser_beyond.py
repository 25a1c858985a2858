"""The chapters beyond the tour in a real browser: the panels' outside-events and cancel buttons.

JupyterLab in headless Chromium (the helpers and fixtures of tests/test_browser.py): a notebook
runs top to bottom, then the test starts one more invocation in its kernel, selects it in the
notebook's panel and clicks the panel's buttons like a learner would.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from test_browser import (  # noqa: F401 - browser, jupyterlab and page are fixtures for this module
    ARTIFACTS,
    JupyterLab,
    browser,
    error_outputs,
    jupyterlab,
    open_notebook,
    page,
    run_all_cells,
)

pytestmark = pytest.mark.browser

PANEL_TIMEOUT_MS = 30_000


def _run_in_kernel(lab_page, code: str) -> None:
    """Run code in the notebook's kernel (not as a cell) and wait until it finished."""
    lab_page.evaluate(
        "async (code) => { const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;"
        " const future = kernel.requestExecute({code: code, store_history: false});"
        " let failed = null;"
        " future.onIOPub = (msg) => { if (msg.header.msg_type === 'error') failed = msg.content.evalue; };"
        " await future.done; if (failed) throw new Error(failed); }",
        textwrap.dedent(code),
    )


def _shows(lab_page, text: str | re.Pattern[str], *, within: str = ".widget-html") -> None:
    lab_page.locator(within, has_text=text).first.wait_for(timeout=PANEL_TIMEOUT_MS)


def test_confirm_a_waiting_workflow_from_the_outside_events_panel(request: pytest.FixtureRequest) -> None:
    lab_page = request.getfixturevalue("page")
    server: JupyterLab = request.getfixturevalue("jupyterlab")
    open_notebook(lab_page, server, "08_workflows.ipynb")
    run_all_cells(lab_page)
    assert error_outputs(lab_page) == []

    # A new order waits for its payment (the notebook shortened the timeout at its end: lengthen it).
    _run_in_kernel(
        lab_page,
        """
        os.environ["TOUR_PAYMENT_TIMEOUT_SECONDS"] = "600"
        lab.call("CartObject", "Zoe", "addTicket", "seat8Z")
        browser_order = lab.submit("CheckoutWorkflow", "order-9", {"user_id": "Zoe", "tickets": ["seat8Z"]})
        panel.view.user = "Zoe"
        panel.select(browser_order.invocation_id)
        """,
    )
    _shows(lab_page, "waits for: promise 'payment'")
    _fits_at_1400_px(lab_page)
    lab_page.locator(".widget-html", has_text="TicketObject/seat8Z").filter(has_text="RESERVED").first.wait_for(
        timeout=PANEL_TIMEOUT_MS
    )
    call = lab_page.get_by_role("button", name="call", exact=True).first
    call.scroll_into_view_if_needed()

    handler = lab_page.locator(".widget-dropdown", has_text=re.compile(r"^\s*handler"))  # not the bar's "any handler"
    handler.locator("select").first.select_option("confirmPayment")
    argument = lab_page.locator(".widget-text", has_text="argument").locator("input").first
    argument.fill('{"payment_id": "pay-browser", "amount": 40}')
    argument.press("Enter")
    call.click()

    _shows(lab_page, "CheckoutWorkflow/order-9/confirmPayment → null")
    _shows(lab_page, re.compile(r"CheckoutWorkflow/order-9/run · completed"))  # the journal panel's heading
    _shows(lab_page, "Notification: GetPromise")
    lab_page.locator(".widget-html", has_text="TicketObject/seat8Z").filter(has_text="SOLD").first.wait_for(
        timeout=PANEL_TIMEOUT_MS
    )
    call.scroll_into_view_if_needed()
    lab_page.screenshot(path=str(ARTIFACTS / "beyond-workflow-confirmed.png"))


def _fits_at_1400_px(lab_page) -> None:
    """The page is 1400 px wide: buttons are not cut, a row's last button does not wrap, no table is cut."""
    reset = lab_page.locator("button", has_text="Reset this section").first
    reset.scroll_into_view_if_needed()
    reset.click()  # the note that appears must not squeeze the button
    lab_page.get_by_role("button", name="Cancel", exact=True).first.wait_for(timeout=PANEL_TIMEOUT_MS)
    cut = lab_page.evaluate(
        "() => [...document.querySelectorAll('.jp-OutputArea button')]"
        ".filter(b => b.offsetParent !== null && b.scrollWidth > b.clientWidth + 1).map(b => b.textContent)"
    )
    assert cut == [], f"buttons with their label cut: {cut}"
    lab_page.get_by_role("button", name="Cancel", exact=True).first.click()
    resolve = lab_page.get_by_role("button", name="resolve", exact=True).first.bounding_box()
    reject = lab_page.get_by_role("button", name="reject", exact=True).first.bounding_box()
    assert resolve is not None
    assert reject is not None
    assert abs(resolve["y"] - reject["y"]) < 2, "reject wrapped onto a line of its own"
    scrolled = lab_page.evaluate(
        "() => [...document.querySelectorAll('.jp-OutputArea .widget-html div')]"
        ".filter(d => d.style.overflowX === 'auto' && d.scrollWidth > d.clientWidth + 1)"
        ".map(d => d.textContent.slice(0, 80))"
    )
    assert scrolled == [], f"tables that scroll sideways (cut) at 1400 px: {scrolled}"


def test_cancel_a_running_booking_from_the_invocations_panel(request: pytest.FixtureRequest) -> None:
    lab_page = request.getfixturevalue("page")
    server: JupyterLab = request.getfixturevalue("jupyterlab")
    open_notebook(lab_page, server, "09_sagas.ipynb")
    run_all_cells(lab_page)
    assert error_outputs(lab_page) == []

    # A booking whose charge the unreachable provider keeps failing: Restate retries it (backing-off).
    _run_in_kernel(
        lab_page,
        """
        payment_client.fail_next_charges(100)
        browser_booking = lab.send("BookingService", None, "book", {"user_id": "Zed", "tickets": ["seat9Y", "seat9Z"]})
        lab.wait_for(browser_booking, "backing-off")
        panel.view.user = "Zed"
        panel.view.seats = ["seat9Y", "seat9Z"]
        panel.select(browser_booking)
        """,
    )
    # A backing-off invocation sees the cancel at its next attempt; resume makes that attempt now.
    lab_page.get_by_role("button", name="cancel", exact=True).first.click()
    lab_page.get_by_role("button", name="resume", exact=True).first.click()

    _shows(lab_page, re.compile(r"BookingService/book · completed"))
    _shows(lab_page, "the cancel signal")  # the journal: the cancel arrived as a signal ...
    _shows(lab_page, "call TicketObject/seat9Z/unreserve")  # ... and the compensations ran, newest first
    _shows(lab_page, "call TicketObject/seat9Y/unreserve")
    for seat in ("seat9Y", "seat9Z"):
        lab_page.locator(".widget-html", has_text=f"TicketObject/{seat}").filter(
            has_text="the seat is AVAILABLE"
        ).first.wait_for(timeout=PANEL_TIMEOUT_MS)
    # The panels do not show how it ended; the kernel knows: cancelled, not given up by the charge step.
    _run_in_kernel(lab_page, 'assert lab.wait_for(browser_booking).completion_failure == "[409] cancelled"')
    lab_page.screenshot(path=str(ARTIFACTS / "beyond-booking-cancelled.png"))


@pytest.mark.parametrize("notebook", ["08_workflows.ipynb", "09_sagas.ipynb", "10_external_events.ipynb"])
def test_the_mermaid_diagram_renders(request: pytest.FixtureRequest, notebook: str) -> None:
    lab_page = request.getfixturevalue("page")
    open_notebook(lab_page, request.getfixturevalue("jupyterlab"), notebook)

    # JupyterLab renders a diagram when its cell comes into view: as an SVG image, or a warning.
    found = lab_page.evaluate(
        "() => { const cells = window.jupyterapp.shell.currentWidget.content.widgets;"
        " const i = cells.findIndex(c => c.model.sharedModel.getSource().includes('```mermaid'));"
        " if (i >= 0) cells[i].node.scrollIntoView(); return i; }"
    )
    assert found >= 0, "no Mermaid diagram in the notebook"
    diagram = lab_page.locator(".jp-RenderedMermaid").first
    diagram.wait_for(timeout=PANEL_TIMEOUT_MS)

    assert lab_page.locator(".jp-RenderedMermaid.jp-mod-warning").count() == 0
    assert diagram.locator("img[src^='data:image/svg+xml']").count() == 1
    assert "Syntax error" not in (diagram.text_content() or "")
    diagram.screenshot(path=str(ARTIFACTS / f"mermaid-{notebook.removesuffix('.ipynb')}.png"))
