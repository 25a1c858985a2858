"""Restate Tour Lab: run the Tour of Restate from a notebook against a real Restate server.

>>> from tourlab import Lab
>>> lab = Lab.start("tour/part1")
>>> lab.call("CartObject", "Mary", "addTicket", "seat2B")
True

``__all__`` is the public API: the `Lab`, the errors it raises, the values its methods return and
`poll`. The ``tourlab._*`` modules are private; ``tests/test_architecture.py`` lists which of them
the lab's own subpackages (``tourlab.course``, ``tourlab.panels``, ``tourlab.hub``) may use.
"""

from tourlab._config import PROJECT_ROOT
from tourlab._diagnose import Stuck
from tourlab._errors import (
    HandlerModuleError,
    ImageBuildError,
    ImageUnavailableError,
    InvocationError,
    InvocationTimeoutError,
    LabError,
    RegistrationError,
    RestateUnreachableError,
    RuntimeUnavailableError,
    ServerNotInstalledError,
    ServerStartError,
    UntrustedCertificateError,
)
from tourlab._follow import Followed
from tourlab._lab import Lab, Reloaded
from tourlab._model import Deployment, Invocation, InvocationStatus, JournalEntry, StuckRelation, Submission, Timer
from tourlab._tracing import Span, Trace
from tourlab._wait import Polled, poll

__all__ = [
    "PROJECT_ROOT",
    "Deployment",
    "Followed",
    "HandlerModuleError",
    "ImageBuildError",
    "ImageUnavailableError",
    "Invocation",
    "InvocationError",
    "InvocationStatus",
    "InvocationTimeoutError",
    "JournalEntry",
    "Lab",
    "LabError",
    "Polled",
    "RegistrationError",
    "Reloaded",
    "RestateUnreachableError",
    "RuntimeUnavailableError",
    "ServerNotInstalledError",
    "ServerStartError",
    "Span",
    "Stuck",
    "StuckRelation",
    "Submission",
    "Timer",
    "Trace",
    "UntrustedCertificateError",
    "poll",
]
