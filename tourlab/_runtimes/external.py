"""A Restate someone else runs (docker compose, a cluster, Restate Cloud)."""

from __future__ import annotations

from pathlib import Path

from tourlab._errors import RuntimeUnavailableError
from tourlab._runtimes._readiness import wait_until_ready


class ExternalRestate:
    """A Restate the lab only talks to: nothing to start, stop or read logs from.

    Service names are global on a Restate, so one learner (one kernel) per external Restate:
    the last kernel to register its endpoint serves CartObject & co. for everyone.
    """

    kind = "external"
    log_path: Path | None = None

    def __init__(self, admin_url: str, ingress_url: str, *, endpoint_host: str, bind_host: str) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.ingress_url = ingress_url.rstrip("/")
        self.endpoint_host = endpoint_host
        self.bind_host = bind_host
        self._started = False

    @property
    def running(self) -> bool:
        return self._started

    def start(self, timeout: float = 30.0) -> None:
        """Wait until the server answers (docker compose may still be starting it)."""
        problem = wait_until_ready(self.admin_url, self.ingress_url, timeout=timeout, interval=0.25)
        if problem is not None:
            raise RuntimeUnavailableError(
                f"The external Restate is not ready after {timeout:.0f} s ({problem}). Check RESTATE_ADMIN_URL / "
                "RESTATE_INGRESS_URL and that the server runs, or unset RESTATE_ADMIN_URL to use the embedded "
                "restate-server."
            )
        self._started = True

    def restart(self, timeout: float = 0) -> None:
        raise RuntimeUnavailableError(
            "This lab uses an external Restate; restart it where it runs "
            "(docker compose: `docker compose restart restate`)."
        )

    def stop(self) -> None:
        """Nothing to stop: the server belongs to someone else."""
        self._started = False
