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

__all__ = [
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
    "select_runtime",
]
