"""A cell that waits for the learner's click in a panel, then does the same in code if none came.

A click is a message to the kernel, which it handles during a running cell only while that cell
awaits (ipykernel dispatches widget messages to a cell that is awaiting). So the wait is awaited,
``await wait_for_click(...)``, and its polling (``tourlab.poll``) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

from tourlab import LabError, poll

#: Set to a non-empty value where nobody can click (nbval, nbconvert): the wait is skipped.
NONINTERACTIVE = "TOURLAB_NONINTERACTIVE"
#: How long a learner's kernel waits for the click.
CLICK_SECONDS = 60.0


@dataclass(frozen=True)
class Click:
    """What a waiting cell saw: whether the learner clicked, and one line saying what happened."""

    clicked: bool
    text: str

    def __repr__(self) -> str:
        return self.text


def click_seconds() -> float:
    """How long `wait_for_click` waits here: a minute, or nothing in a run nobody can click in."""
    return 0.0 if os.environ.get(NONINTERACTIVE) else CLICK_SECONDS


async def wait_for_click(
    clicked: Callable[[], bool],
    instead: Callable[[], object],
    *,
    done: str,
    doing: str,
    timeout: float | None = None,
) -> Click:
    """Wait until `clicked()` holds (the learner did it in the panel), else run `instead` and say so.

    `done` says what the click did ("the payment was confirmed from the panel"), `doing` what the
    cell does instead ("confirms the payment"). `timeout` defaults to `click_seconds()`. An error
    of `instead` is shown in the line, not raised: the notebook goes on.
    """
    seconds = click_seconds() if timeout is None else timeout
    polled = await asyncio.to_thread(poll, clicked, timeout=seconds, interval=0.25)
    if polled.ok:
        return Click(clicked=True, text=f"Clicked: {done}.")
    try:
        instead()
    except LabError as error:
        return Click(clicked=False, text=f"No click, so this cell {doing} in code, which failed: {error}")
    return Click(clicked=False, text=f"No click, so this cell {doing} in code.")
