"""Exceptions the lab raises; each message says what happened and what to do.

Standard library only: ``images/build_images.py`` loads this file by path (through images.py).
"""

from __future__ import annotations


class LabError(RuntimeError):
    """Base class for every error the lab raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message says what happened and what to do.
        return [f"{type(self).__name__}: {self}"]


class ServerNotInstalledError(LabError):
    """The restate-server binary could not be found."""


class ServerStartError(LabError):
    """The Restate server did not come up."""


class RestateUnreachableError(LabError):
    """Restate did not answer: the server is down or restarting, or cannot be reached."""


class UntrustedCertificateError(RestateUnreachableError):
    """An https Restate's certificate is not trusted here; waiting will not change that."""


class ImageUnavailableError(ServerStartError):
    """No Restate image for Docker: the official one cannot be pulled and no local stand-in can be built."""


class ImageBuildError(ServerStartError):
    """``docker build`` of a local stand-in image failed."""


class RuntimeUnavailableError(LabError):
    """No way to run Restate was found (embedded binary, Docker or external)."""


class HandlerModuleError(LabError):
    """The learner's handler module could not be loaded; the previous version keeps serving."""

    def __init__(self, message: str, *, filename: str | None = None, lineno: int | None = None) -> None:
        super().__init__(message)
        self.filename = filename
        self.lineno = lineno


class RegistrationError(LabError):
    """Restate refused the endpoint's services."""


class InvocationError(LabError):
    """An invocation failed or did not answer in time."""

    def __init__(self, message: str, *, status_code: int | None = None, invocation_id: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.invocation_id = invocation_id


class InvocationTimeoutError(InvocationError):
    """An invocation did not finish within the time the caller was willing to wait."""
