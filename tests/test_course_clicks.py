"""Cells that wait for a click: the learner's click is seen during the wait, else the cell does it in code."""

from __future__ import annotations

import asyncio

import pytest
from jupyter_client.manager import start_new_kernel

from tourlab import LabError
from tourlab.course import wait_for_click
from tourlab.course.clicks import NONINTERACTIVE, click_seconds


def test_where_nobody_can_click_the_cell_does_it_in_code_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NONINTERACTIVE, "1")
    done: list[str] = []
    click = asyncio.run(wait_for_click(lambda: False, lambda: done.append("confirmed"), done="x", doing="confirms it"))
    assert click_seconds() == 0.0
    assert (click.clicked, done, repr(click)) == (False, ["confirmed"], "No click, so this cell confirms it in code.")


def test_a_click_before_the_cell_runs_is_seen_and_nothing_is_done_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NONINTERACTIVE, raising=False)
    done: list[str] = []
    click = asyncio.run(wait_for_click(lambda: True, lambda: done.append("again"), done="confirmed", doing="confirms"))
    assert click_seconds() == 60.0
    assert (click.clicked, done, repr(click)) == (True, [], "Clicked: confirmed.")


def test_a_failing_fallback_is_shown_not_raised() -> None:
    def refuse() -> None:
        raise LabError("promise was already completed")

    click = asyncio.run(wait_for_click(lambda: False, refuse, done="x", doing="confirms it", timeout=0))
    assert repr(click) == "No click, so this cell confirms it in code, which failed: promise was already completed"


def test_a_click_during_the_wait_reaches_the_kernel() -> None:
    """ipykernel hands a widget message to a cell that awaits: the click is seen before the timeout."""
    manager, client = start_new_kernel(kernel_name="python3")
    try:

        def run(code: str) -> str:
            msg_id = client.execute(code)
            return _output(client, msg_id)

        comm_id = run(
            "import ipywidgets\nclicks = []\nbutton = ipywidgets.Button()\n"
            "button.on_click(clicks.append)\nprint(button.comm.comm_id, end='')"
        )
        waiting = client.execute(
            "from tourlab.course import wait_for_click\n"
            "print(await wait_for_click(lambda: bool(clicks), lambda: None, done='seen', doing='does it', timeout=30))"
        )
        click = {"method": "custom", "content": {"event": "click"}}
        client.shell_channel.send(client.session.msg("comm_msg", {"comm_id": comm_id, "data": click}))
        assert _output(client, waiting) == "Clicked: seen.\n"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _output(client: object, msg_id: str) -> str:
    texts = []
    while True:
        message = client.get_iopub_msg(timeout=60)  # type: ignore[attr-defined]
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            texts.append(message["content"]["text"])
        if message["msg_type"] == "error":
            texts.append("\n".join(message["content"]["traceback"]))
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return "".join(texts)
