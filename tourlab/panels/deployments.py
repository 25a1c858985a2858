"""The deployments Restate knows, their endpoints, and which unfinished invocations are pinned to which."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from tourlab import Lab
from tourlab.panels._base import IDLE, LabView, PanelBase
from tourlab.panels._format import esc, set_if_changed, table
from tourlab.panels._round import Round

_STATUS_COLORS = {"active": "#16a34a", "draining": "#b45309", "drained": "#6b7280"}


class DeploymentsPanel(PanelBase):
    """One row per deployment: status, endpoint URI, services with their revision, pinned invocations.

    Restate runs a new invocation on the newest deployment of its service and finishes every
    invocation on the deployment it started on. In a dashboard this panel sits in a tab and
    reads Restate only while its tab is shown (``shown``).
    """

    title = "Deployments"
    description = "registered deployments, their endpoints and the invocations pinned to each"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.table = widgets.HTML("<i>Open this tab to read the deployments.</i>")
        #: Whether the panel is on screen (a dashboard sets it from its tabs); hidden, it reads nothing.
        self.shown = True
        #: What the panel shows, as data: deployment id -> the ids of the invocations pinned to it
        self.pinned: dict[str, list[str]] = {}
        self._compose(self.table)

    def _render(self, current: Round) -> int:
        if not self.shown:
            return IDLE
        deployments, rows = current.deployments()
        pinned: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            pinned.setdefault(row["pinned_deployment_id"], []).append(row)
        self.pinned = {d.id: [row["id"] for row in pinned.get(d.id, [])] for d in deployments}
        body = [
            [
                f"<code>{esc(d.id)}</code>",
                f"<b style='color:{_STATUS_COLORS.get(d.status, '#111')}'>{esc(d.status)}</b>",
                f"<code>{esc(d.uri)}</code>",
                "<br>".join(f"{esc(name)} <i>rev.&nbsp;{rev}</i>" for name, rev in sorted(d.services.items())),
                "<br>".join(_pinned_line(row) for row in pinned.get(d.id, [])) or "none",
            ]
            for d in deployments
        ]
        headers = ["deployment", "status", "endpoint", "services", "unfinished invocations pinned to it (finish there)"]
        set_if_changed(self.table, table(headers, body) if body else "<i>No deployments registered.</i>")
        return IDLE


def _pinned_line(row: dict[str, Any]) -> str:
    return f"<code>{esc(row['target'])}</code> &middot; {esc(row['status'])} &middot; <code>{esc(row['id'])}</code>"
