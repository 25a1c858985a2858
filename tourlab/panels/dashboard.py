"""All panels together, sharing one selection and one refresh loop."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from tourlab import Lab
from tourlab.panels._base import LabView
from tourlab.panels.deployments import DeploymentsPanel
from tourlab.panels.events import EventsPanel
from tourlab.panels.faults import FaultsPanel
from tourlab.panels.invocations import InvocationsPanel
from tourlab.panels.invoke import InvokeBar
from tourlab.panels.journal import JournalPanel
from tourlab.panels.links import jaeger_url
from tourlab.panels.state import StatePanel
from tourlab.panels.timers import TimersPanel
from tourlab.panels.trace import TracePanel


class Dashboard(widgets.VBox):
    """One screen: the invoke bar; journal or trace (tabs) beside state and timers; the invocations;
    outside events, fault injection and deployments (tabs).

    ``live=False`` turns the background refresh off (panels then refresh after each click
    and on ``refresh()``). When its lab stops and another one runs in the kernel (a second
    ``open_section``), the dashboard shows that one.
    """

    def __init__(self, lab: Lab, *, live: bool = True, **kwargs: Any) -> None:
        self.view = LabView(lab, live=live)
        self.invoke = InvokeBar(lab, self.view)
        self.journal = JournalPanel(lab, self.view)
        self.state = StatePanel(lab, self.view)
        self.invocations = InvocationsPanel(lab, self.view)
        self.timers = TimersPanel(lab, self.view)
        self.trace = TracePanel(lab, self.view)
        self.events = EventsPanel(lab, self.view)
        self.faults = FaultsPanel(lab, self.view)
        self.deployments = DeploymentsPanel(lab, self.view)
        self.left = _tabs({"Journal": self.journal, "Trace": self.trace}, width="58%")
        self.bottom = _tabs(
            {"Outside events": self.events, "Fault injection": self.faults, "Deployments": self.deployments},
            width="100%",
        )
        self.deployments.shown = False  # read only while its tab is open
        self.bottom.observe(self._tab_chosen, "selected_index")
        right = widgets.VBox([self.state, self.timers], layout={"width": "42%", "min_width": "0"})
        super().__init__(
            [
                widgets.HTML(self._links()),
                self.invoke,
                widgets.HBox([self.left, right]),
                self.invocations,
                self.bottom,
            ],
            **kwargs,
        )
        if lab.last_invocation_id:
            self.view.invocation_id = lab.last_invocation_id
        # The notebook's own lab.call(...) and friends refresh the panels too.
        self.view.watch(self.view.refresher.poke)
        self.refresh()

    @property
    def lab(self) -> Lab:
        """The lab shown: the one given, or the one this kernel runs after it stopped."""
        return self.view.lab

    @property
    def panels(self) -> list[Any]:
        return [
            self.invoke,
            self.journal,
            self.state,
            self.invocations,
            self.timers,
            self.trace,
            self.events,
            self.faults,
            self.deployments,
        ]

    def refresh(self) -> None:
        """Refresh every panel once, now."""
        self.view.refresher.refresh_now()

    def select(self, invocation_id: str | None) -> None:
        """Show this invocation in the journal, invocations and trace panels."""
        self.view.select(invocation_id)

    def _tab_chosen(self, change: dict[str, Any]) -> None:
        self.deployments.shown = self.bottom.children[change["new"] or 0] is self.deployments
        if self.deployments.shown:
            self.deployments.refresh()

    def close(self) -> None:
        self.view.unwatch()
        self.view.refresher.stop()
        for panel in self.panels:
            panel.close()
        super().close()

    def __repr__(self) -> str:
        # Fixed text (stored in the notebooks' outputs): the Deployments tab is not named, to keep it.
        return "Lab panels: invoke bar, journal, trace, state, timers, invocations, outside events, fault injection"

    def _links(self) -> str:
        links = []
        ui = self.lab.restate_ui_url
        if ui:
            links.append(f"<a href='{html.escape(ui, quote=True)}' target='_blank'>Restate UI</a>")
        jaeger = jaeger_url()
        if jaeger:
            links.append(f"<a href='{html.escape(jaeger, quote=True)}' target='_blank'>Jaeger</a>")
        if self.lab.traces is not None:
            links.append(f"traces: {html.escape(self.lab.traces.description)} (see the Trace tab)")
        return " &middot; ".join(links)


def _tabs(panels: dict[str, widgets.Widget], *, width: str) -> widgets.Tab:
    tabs = widgets.Tab(children=list(panels.values()), layout={"width": width, "min_width": "0"})
    for number, title in enumerate(panels):
        tabs.set_title(number, title)
    return tabs
