"""Restate Tour Lab: run the Tour of Restate from a notebook against a real Restate server.

>>> from tourlab import Lab
>>> lab = Lab.start("tour/part1")
>>> lab.call("CartObject", "Mary", "addTicket", "seat2B")
True
"""

from tourlab._client import Invocation, JournalEntry, RestateClient
from tourlab._errors import (
    HandlerModuleError,
    InvocationError,
    LabError,
    RegistrationError,
    RuntimeUnavailableError,
    ServerNotInstalledError,
    ServerStartError,
)
from tourlab._lab import Lab, Reloaded
from tourlab._runtime import select_runtime
from tourlab._server import EmbeddedServer
from tourlab._tracing import Span, SpanStore, Trace, TraceReceiver

__all__ = [
    "Dashboard",
    "EmbeddedServer",
    "HandlerModuleError",
    "Invocation",
    "InvocationError",
    "JournalEntry",
    "Lab",
    "LabError",
    "RegistrationError",
    "Reloaded",
    "RestateClient",
    "RuntimeUnavailableError",
    "ServerNotInstalledError",
    "ServerStartError",
    "Span",
    "SpanStore",
    "Trace",
    "TraceReceiver",
    "select_runtime",
]


def __getattr__(name: str) -> object:
    # The panels need ipywidgets: import them on first use, not with every `import tourlab`.
    if name == "Dashboard":
        from tourlab.panels import Dashboard

        return Dashboard
    raise AttributeError(f"module 'tourlab' has no attribute {name!r}")
