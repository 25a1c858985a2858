"""The panels in a real JupyterLab (headless Chromium): they render, clicks work, refresh is live."""

from __future__ import annotations

import pytest

# The JupyterLab + Chromium harness of the course's browser tests.
from test_browser import ARTIFACTS, JupyterLab, browser, error_outputs, jupyterlab, open_notebook, page

pytestmark = pytest.mark.browser

__all__ = ["browser", "jupyterlab", "page"]  # fixtures used by the tests below


def test_the_tracing_notebook_panels_work_in_jupyterlab(page, jupyterlab: JupyterLab):
    open_notebook(page, jupyterlab, "07_tracing.ipynb")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    bar = page.locator(".widget-vbox", has_text="Invoke").filter(has=page.locator("button", has_text="addTicket"))
    bar.first.wait_for(timeout=120_000)
    assert error_outputs(page) == []

    user = page.locator(".widget-text", has_text="user").locator("input").first
    user.fill("Zoe")
    user.press("Enter")
    seat = page.locator(".widget-text", has_text="seat").locator("input").first
    seat.fill("seat9Z")
    seat.press("Enter")
    page.locator("button", has_text="addTicket").first.click()

    # The response, the journal's call, the state and the trace all show up without another click.
    page.locator(".widget-html", has_text="CartObject/Zoe/addTicket").locator("b", has_text="true").first.wait_for(
        timeout=30_000
    )
    page.locator(".widget-html", has_text="TicketObject/seat9Z/reserve").first.wait_for(timeout=30_000)
    page.locator(".widget-html", has_text='"RESERVED"').first.wait_for(timeout=30_000)
    waterfall = page.locator(".widget-html", has_text="invocation-attempt TicketObject/seat9Z/reserve").first
    waterfall.wait_for(timeout=30_000)
    page.locator(".widget-html", has_text="CartObject/Zoe/expireTicket").first.wait_for(timeout=30_000)
    bar.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "panels-top.png"), full_page=False)
    waterfall.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "panels.png"), full_page=False)
    assert error_outputs(page) == []
