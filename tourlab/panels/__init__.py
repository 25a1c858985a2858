"""Live ipywidgets panels over a running lab: ``Dashboard(lab)`` shows them all, each also works alone.

>>> from tourlab import Lab
>>> from tourlab.panels import Dashboard, JournalPanel
>>> lab = Lab.start("tour/part4")
>>> Dashboard(lab)          # invoke bar, journal, state, invocations, timers, trace, events, faults, deployments
>>> JournalPanel(lab)       # just one of them
"""

from tourlab.panels._base import LabView, PanelBase, Refresher
from tourlab.panels._round import Round
from tourlab.panels.dashboard import Dashboard
from tourlab.panels.deployments import DeploymentsPanel
from tourlab.panels.events import EventsPanel
from tourlab.panels.faults import FaultsPanel
from tourlab.panels.invocations import InvocationsPanel
from tourlab.panels.invoke import InvokeBar
from tourlab.panels.journal import JournalPanel
from tourlab.panels.links import browser_url, jaeger_trace_url
from tourlab.panels.state import StatePanel
from tourlab.panels.timers import TimersPanel
from tourlab.panels.trace import TracePanel

__all__ = [
    "Dashboard",
    "DeploymentsPanel",
    "EventsPanel",
    "FaultsPanel",
    "InvocationsPanel",
    "InvokeBar",
    "JournalPanel",
    "LabView",
    "PanelBase",
    "Refresher",
    "Round",
    "StatePanel",
    "TimersPanel",
    "TracePanel",
    "browser_url",
    "jaeger_trace_url",
]
