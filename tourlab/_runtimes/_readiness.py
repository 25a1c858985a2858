"""When is a Restate ready for the lab? Both health checks pass *and* its partition answers.

Healthy is not ready: right after a (re)start, queries and invocations fail or wait until
the partition has a leader. Every runtime (embedded, Docker, external) waits the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tourlab._errors import UntrustedCertificateError
from tourlab._http import prompt_transport, unreachable
from tourlab._wait import poll

_READY_QUERY = {"query": "SELECT id FROM sys_invocation LIMIT 1"}


def readiness_problem(http: httpx.Client, admin_url: str, ingress_url: str) -> str | None:
    """None when Restate is ready, else what is not ready yet (for error messages)."""
    checks = (
        ("GET", f"{admin_url}/health", None),
        ("GET", f"{ingress_url}/restate/health", None),
        ("POST", f"{admin_url}/query", _READY_QUERY),
    )
    for method, url, body in checks:
        try:
            status = http.request(method, url, json=body).status_code
        except httpx.HTTPError as error:
            failure = unreachable(url, error) if isinstance(error, httpx.TransportError) else None
            if isinstance(failure, UntrustedCertificateError):  # no retry will make it trusted
                raise failure from None
            return f"{url}: {type(error).__name__}"
        if status != 200:
            return f"{url}: HTTP {status}"
    return None


def wait_until_ready(
    admin_url: str,
    ingress_url: str,
    *,
    timeout: float,
    interval: float = 0.02,
    before_each_try: Callable[[], None] | None = None,
) -> str | None:
    """Poll until Restate is ready; None when it is, else the last problem seen when time ran out.

    `before_each_try` runs before every poll and may raise (e.g. when the server process died).
    """

    def problem() -> str | None:
        if before_each_try is not None:
            before_each_try()
        return readiness_problem(http, admin_url, ingress_url)

    with httpx.Client(timeout=2.0, transport=prompt_transport(admin_url, ingress_url)) as http:
        return poll(problem, lambda found: found is None, timeout=timeout, interval=interval).value
