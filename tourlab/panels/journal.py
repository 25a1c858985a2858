"""The journal of the selected invocation: what Restate recorded, step by step."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from tourlab import Invocation, JournalEntry, Lab
from tourlab.panels._base import ACTIVE, IDLE, LabView, PanelBase, Round, esc, set_if_changed, table


class JournalPanel(PanelBase):
    """Index, entry type, name, call target and completion of each journal entry.

    Calls to other handlers get a button that opens the callee's journal; a child's journal
    has a button back to its caller.
    """

    title = "Journal"
    description = "journal of the selected invocation"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.heading = widgets.HTML("")
        self.table = widgets.HTML("<i>Select an invocation (make a call).</i>")
        self.links = widgets.HBox([], layout={"flex_flow": "row wrap"})
        self.entries: list[JournalEntry] = []
        self.invocation: Invocation | None = None
        self._link_key: tuple[Any, ...] = ()
        self._compose(self.heading, self.table, self.links)

    def _render(self, current: Round) -> int:
        invocation_id = self.view.invocation_id
        if invocation_id is None:
            return IDLE
        self.invocation = invocation = current.invocation(invocation_id)
        self.entries = current.journal(invocation_id)
        status = invocation.status if invocation else "unknown"
        target = invocation.target if invocation else invocation_id
        set_if_changed(
            self.heading,
            f"<code>{esc(target)}</code> &middot; {esc(status)} &middot; <code>{esc(invocation_id)}</code>",
        )
        rows = [
            [
                str(entry.index),
                esc(entry.entry_type),
                esc(entry.name),
                esc(entry.target),
                _completed(entry),
                esc(entry.wake_up_at),
            ]
            for entry in self.entries
        ]
        body = (
            table(["#", "entry", "name", "target", "completed", "wakes up / runs at"], rows)
            if rows
            else "<i>No journal entries (yet): a scheduled invocation has none until it starts.</i>"
        )
        set_if_changed(self.table, body)
        self._update_links()
        return ACTIVE if invocation is not None and invocation.active else IDLE

    def _update_links(self) -> None:
        callees = [(entry.index, entry.target, entry.callee_id) for entry in self.entries if entry.callee_id]
        caller = self.invocation.invoked_by_id if self.invocation else None
        key = (caller, *callees)
        if key == self._link_key:
            return
        self._link_key = key
        buttons = []
        if caller:
            back = widgets.Button(description="caller", icon="arrow-up", tooltip=caller)
            back.on_click(self.guarded(lambda _b, target=caller: self.view.select(target)))
            buttons.append(back)
        for index, target, callee in callees:
            button = widgets.Button(
                description=f"#{index} {target}", icon="arrow-right", tooltip=callee, layout={"width": "auto"}
            )
            button.on_click(self.guarded(lambda _b, target=callee: self.view.select(target)))
            buttons.append(button)
        self.links.children = tuple(buttons)


def _completed(entry: JournalEntry) -> str:
    if entry.completed is None:
        return ""
    return "&#10003;" if entry.completed else html.escape("waiting")
