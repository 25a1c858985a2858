"""K/V state: the current user's cart and the status of every ticket involved."""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets

from tourlab import Lab
from tourlab.panels._base import IDLE, LabView, PanelBase, Round, set_if_changed


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
        self._compose(self.cart, self.tickets)

    def _render(self, current: Round) -> int:
        user = self.view.user
        cart = current.cart()
        known = current.tickets()
        in_cart = [seat for seat in cart.get("tickets") or [] if isinstance(seat, str)]
        seats = list(dict.fromkeys([*in_cart, *self.view.seats]))
        data = {f"CartObject/{user}": cart} if user else {}
        data.update({f"TicketObject/{seat}": known.get(seat, {}) for seat in seats})
        self.data = data
        cart_key = f"CartObject/{user}"
        cart_html = _block(cart_key, cart, "no state yet: an empty cart") if user else "<i>No user.</i>"
        set_if_changed(self.cart, cart_html)
        ticket_html = "".join(
            _block(key, value, "no state: the seat is AVAILABLE")
            for key, value in data.items()
            if key.startswith("TicketObject/")
        )
        set_if_changed(self.tickets, ticket_html or "<i>No tickets involved yet.</i>")
        return IDLE


def _block(key: str, state: dict[str, Any], empty: str) -> str:
    shown = json.dumps(state, indent=1) if state else f"{{}}   ({empty})"
    return (
        f"<div><code>{html.escape(key)}</code><pre style='margin:0 0 4px 12px;font-size:12px;white-space:pre-wrap'>"
        f"{html.escape(shown)}</pre></div>"
    )
