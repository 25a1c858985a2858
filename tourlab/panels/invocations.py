"""Recent invocations with their status, retries and last failure, and what to do about them.

The course's checks make invocations of their own (object keys ``check-…``); they are hidden
unless the learner ticks the box.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from tourlab import Invocation, InvocationStatus, Lab, LabError
from tourlab._model import failure_summary
from tourlab.panels._base import ACTIVE, IDLE, TIMERS, LabView, PanelBase
from tourlab.panels._format import esc, set_if_changed, table
from tourlab.panels._round import Round

_STATUS_COLORS: dict[InvocationStatus, str] = {
    "completed": "#16a34a",
    "backing-off": "#dc2626",
    "paused": "#b45309",
    "running": "#2563eb",
    "suspended": "#7c3aed",
    "scheduled": "#0891b2",
}


class InvocationsPanel(PanelBase):
    """The newest invocations; select one to show it everywhere, then resume, cancel or kill it."""

    title = "Invocations"
    description = "recent invocations with status, retries and last failure"

    def __init__(self, lab: Lab, view: LabView | None = None, *, limit: int = 12, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.limit = limit
        self.table = widgets.HTML("")
        self.picker = widgets.Dropdown(
            options=[], description="selected", layout={"flex": "0 1 560px", "min_width": "260px"}
        )
        self.actions = {
            name: widgets.Button(description=name, layout={"width": "90px", "flex": "0 0 auto"})
            for name in ("resume", "cancel", "kill")
        }
        for name, button in self.actions.items():
            button.on_click(self.guarded(lambda _b, action=name: self.act(action)))
        self.show_checks = widgets.Checkbox(
            value=self.view.show_checks, description="show the checks' own (check-…)", indent=False,
            layout={"width": "auto"},
        )  # fmt: skip
        self.show_checks.observe(self._toggle_checks, "value")
        self.message = widgets.HTML("")
        self.invocations: list[Invocation] = []
        #: The most attempts seen per invocation: Restate resets its count once an invocation completes.
        self.most_attempts: dict[str, int] = {}
        self._syncing = False
        self.picker.observe(self._picked, "value")
        self.view.observe(self.guarded(lambda _change: self._sync_picker()), "invocation_id")
        self._compose(
            self.table,
            widgets.HBox([self.picker, *self.actions.values(), self.show_checks], layout={"flex_flow": "row wrap"}),
            self.message,
        )

    def _render(self, current: Round) -> int:
        listed = current.recent()[: self.limit]
        selected = self.view.invocation_id
        if selected and all(inv.id != selected for inv in listed):
            extra = current.invocation(selected)
            if extra is not None:
                listed.append(extra)
        self.invocations = listed
        for inv in listed:
            self.most_attempts[inv.id] = max(self.most_attempts.get(inv.id, 0), inv.retry_count)
        rows = [
            [
                f"<code>{esc(inv.target)}</code>",
                _status_cell(inv),
                str(self.retries(inv.id)),
                esc(current.waiting_for(inv) or ""),
                _failure_cell(inv.last_failure),
                f"<code>{esc(inv.id)}</code>",
            ]
            for inv in listed
        ]
        highlight = next((n for n, inv in enumerate(listed) if inv.id == selected), None)
        body = (
            table(["target", "status", "retries", "waiting for", "last failure", "id"], rows, highlight=highlight)
            if rows
            else "<i>No invocations yet.</i>"
        )
        set_if_changed(self.table, body)
        self._sync_picker()
        if any(inv.active for inv in listed):
            return ACTIVE
        return TIMERS if any(inv.status == "scheduled" for inv in listed) else IDLE

    def retries(self, invocation_id: str) -> int:
        """Retries seen: Restate's ``retry_count`` counts attempts, so a first attempt still waiting shows 0."""
        return max(self.most_attempts.get(invocation_id, 0) - 1, 0)

    def _toggle_checks(self, change: dict[str, Any]) -> None:
        self.view.show_checks = bool(change["new"])
        self.view.refresher.refresh_now()

    def status_of(self, invocation_id: str) -> Invocation | None:
        """The row shown for an invocation (after the last refresh)."""
        return next((inv for inv in self.invocations if inv.id == invocation_id), None)

    def _sync_picker(self) -> None:
        options = [(f"{inv.target} · {inv.status} · {inv.id[-6:]}", inv.id) for inv in self.invocations]
        selected = self.view.invocation_id
        if selected and all(value != selected for _label, value in options):
            options.append((selected, selected))
        self._syncing = True
        try:
            if list(self.picker.options) != options:
                self.picker.options = options
            set_if_changed(self.picker, selected if selected in {v for _l, v in options} else None)
        finally:
            self._syncing = False

    def _picked(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] is None or change["new"] == self.view.invocation_id:
            return
        try:
            self.view.select(change["new"])
        except Exception as error:  # noqa: BLE001 - shown in the panel
            self.show_error(error)

    def act(self, action: str, invocation_id: str | None = None) -> None:
        """Resume, cancel or kill the selected invocation (or `invocation_id`)."""
        chosen = invocation_id or self.view.invocation_id
        if chosen is None:
            raise LabError("Select an invocation first.")
        with self.view.refresher.click():
            {"resume": self.lab.resume, "cancel": self.lab.cancel, "kill": self.lab.kill}[action](chosen)
            self._note(action, chosen)

    def _note(self, action: str, chosen: str) -> None:
        notes = {
            "resume": "retrying now; it completes if the handler works again",
            "cancel": "cancelled: it stops at its next step, where its compensating code can run",
            "kill": "killed: no more of its code runs",
        }
        note = notes[action]
        listed = next((inv for inv in self.invocations if inv.id == chosen), None)
        if action == "cancel" and listed is not None and listed.status == "backing-off":
            note += " (it is backing off: the cancel lands at its next attempt; resume applies it now)"
        self.message.value = f"{action}: <code>{esc(chosen)}</code> &middot; {note}"


def _status_cell(inv: Invocation) -> str:
    """The status, and for a finished invocation how it ended (``completed: [409] cancelled``)."""
    shown = f"<b style='color:{_STATUS_COLORS.get(inv.status, '#111')}'>{esc(inv.status)}</b>"
    if inv.status == "completed" and inv.completion_failure:
        shown += f": <span style='color:#dc2626'>{esc(inv.completion_failure)}</span>"
    return shown


def _failure_cell(failure: str | None) -> str:
    """The exception line, with Restate's full failure text (and traceback) as the tooltip."""
    tooltip = html.escape(failure or "", quote=True)
    shown = esc(failure_summary(failure)[:160])
    return f"<span title='{tooltip}' style='color:#dc2626;white-space:normal;word-break:break-word'>{shown}</span>"
