"""K/V state: the current user's cart and the status of every ticket involved."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from tourlab.panels._base import IDLE, LabView, PanelBase, set_if_changed

if TYPE_CHECKING:
    from tourlab._lab import Lab


class StatePanel(PanelBase):
    """``CartObject/<user>`` and ``TicketObject/<seat>`` state as Restate stores it (JSON)."""

    title = "State"
    description = "cart of the current user and status of the tickets involved"

    def __init__(self, lab: Lab, view: LabView | None = None, **kwargs: Any) -> None:
        super().__init__(lab, view, **kwargs)
        self.cart = widgets.HTML("")
        self.tickets = widgets.HTML("")
        #: What the panel shows, as data: {"CartObject/Mary": {...}, "TicketObject/seat2B": {...}}
        self.data: dict[str, dict[str, Any]] = {}
        self.view.observe(lambda _change: self.refresh(), "user")
        self._compose(self.cart, self.tickets)

    def _render(self) -> int:
        client = self.lab.client
        user = self.view.user
        data: dict[str, dict[str, Any]] = {}
        if user:
            data[f"CartObject/{user}"] = client.state("CartObject", user)
        in_cart = data.get(f"CartObject/{user}", {}).get("tickets") or []
        seats = list(dict.fromkeys([*(s for s in in_cart if isinstance(s, str)), *self.view.seats]))
        for seat in seats:
            data[f"TicketObject/{seat}"] = client.state("TicketObject", seat)
        self.data = data
        cart_key = f"CartObject/{user}"
        set_if_changed(self.cart, _block(cart_key, data.get(cart_key, {})) if user else "<i>No user.</i>")
        ticket_html = "".join(_block(key, value) for key, value in data.items() if key.startswith("TicketObject/"))
        set_if_changed(self.tickets, ticket_html or "<i>No tickets involved yet.</i>")
        return IDLE


def _block(key: str, state: dict[str, Any]) -> str:
    shown = json.dumps(state, indent=1) if state else "{}   (no state: a fresh object; tickets are AVAILABLE)"
    return (
        f"<div><code>{html.escape(key)}</code><pre style='margin:0 0 4px 12px;font-size:12px'>"
        f"{html.escape(shown)}</pre></div>"
    )
