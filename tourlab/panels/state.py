"""K/V state: the selected invocation's object, the current user's cart and every ticket involved."""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets

from tourlab import Lab
from tourlab.panels._base import IDLE, LabView, PanelBase
from tourlab.panels._format import set_if_changed
from tourlab.panels._round import Round, object_of


class StatePanel(PanelBase):
    """``CartObject/<user>`` and ``TicketObject/<seat>`` state as Restate stores it (JSON).

    When the selected invocation runs on another object or workflow key (``CheckoutWorkflow/order-1``,
    another user's cart), that key's state comes first.
    """

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
        known = current.tickets()
        objects: list[tuple[str, str]] = []
        selected = current.invocation(self.view.invocation_id) if self.view.invocation_id else None
        if selected is not None and (found := object_of(selected.target)) is not None:
            objects.append(found)
        if user and ("CartObject", user) not in objects:
            objects.append(("CartObject", user))
        data: dict[str, dict[str, Any]] = {}
        for service, key in objects:
            if service == "TicketObject":
                data[f"TicketObject/{key}"] = known.get(key, {})
                continue
            state = current.cart() if (service, key) == ("CartObject", user) else current.object_state(service, key)
            data[f"{service}/{key}"] = state
        in_carts = [seat for key, state in data.items() if key.startswith("CartObject/") for seat in _seats_of(state)]
        for seat in dict.fromkeys([*in_carts, *self.view.seats]):
            data.setdefault(f"TicketObject/{seat}", known.get(seat, {}))
        self.data = data
        objects_html = "".join(
            _block(key, value, _empty(key)) for key, value in data.items() if not key.startswith("TicketObject/")
        )
        set_if_changed(self.cart, objects_html or "<i>No user.</i>")
        ticket_html = "".join(
            _block(key, value, _empty(key)) for key, value in data.items() if key.startswith("TicketObject/")
        )
        set_if_changed(self.tickets, ticket_html or "<i>No tickets involved yet.</i>")
        return IDLE


def _seats_of(cart: dict[str, Any]) -> list[str]:
    return [seat for seat in cart.get("tickets") or [] if isinstance(seat, str)]


def _empty(key: str) -> str:
    if key.startswith("TicketObject/"):
        return "no state: the seat is AVAILABLE"
    return "no state yet: an empty cart" if key.startswith("CartObject/") else "no state yet"


def _block(key: str, state: dict[str, Any], empty: str) -> str:
    shown = json.dumps(state, indent=1) if state else f"{{}}   ({empty})"
    return (
        f"<div><code>{html.escape(key)}</code><pre style='margin:0 0 4px 12px;font-size:12px;white-space:pre-wrap'>"
        f"{html.escape(shown)}</pre></div>"
    )
