"""Restate Tour Lab: run the Tour of Restate from a notebook against a real Restate server.

>>> from tourlab import Lab
>>> lab = Lab.start("tour/part1")
>>> lab.call("CartObject", "Mary", "addTicket", "seat2B")
True

Everything public is listed in ``__all__``; the ``tourlab._*`` modules are private, and the
lab's own subpackages (``tourlab.panels``, ``tourlab.course``) use only what is listed here.
"""

from tourlab._client import NO_ARG, RestateClient
from tourlab._config import LAB_HOME, LOCAL_HOSTS, NODE_MODULES, PROJECT_ROOT
from tourlab._diagnose import Stuck
from tourlab._errors import (
    HandlerModuleError,
    InvocationError,
    InvocationTimeoutError,
    LabError,
    RegistrationError,
    RuntimeUnavailableError,
    ServerNotInstalledError,
    ServerStartError,
)
from tourlab._follow import Followed
from tourlab._lab import Lab, Reloaded
from tourlab._model import (
    ACTIVE_STATUSES,
    Deployment,
    Invocation,
    JournalEntry,
    Submission,
    Timer,
    failure_summary,
    waiting_for,
)
from tourlab._ports import free_port
from tourlab._runtimes import EmbeddedRestate, Runtime, RuntimeChoice, choose_runtime, create_runtime
from tourlab._tracing import JaegerQuery, Span, SpanStore, Trace, TraceReceiver, TraceSource
from tourlab._wait import Polled, poll

__all__ = [
    "ACTIVE_STATUSES",
    "LAB_HOME",
    "LOCAL_HOSTS",
    "NODE_MODULES",
    "NO_ARG",
    "PROJECT_ROOT",
    "Deployment",
    "EmbeddedRestate",
    "Followed",
    "HandlerModuleError",
    "Invocation",
    "InvocationError",
    "InvocationTimeoutError",
    "JaegerQuery",
    "JournalEntry",
    "Lab",
    "LabError",
    "Polled",
    "RegistrationError",
    "Reloaded",
    "RestateClient",
    "Runtime",
    "RuntimeChoice",
    "RuntimeUnavailableError",
    "ServerNotInstalledError",
    "ServerStartError",
    "Span",
    "SpanStore",
    "Stuck",
    "Submission",
    "Timer",
    "Trace",
    "TraceReceiver",
    "TraceSource",
    "choose_runtime",
    "create_runtime",
    "failure_summary",
    "free_port",
    "poll",
    "waiting_for",
]
