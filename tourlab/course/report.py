"""Send each exercise check to the class gradebook when the course runs on the classroom hub.

The hub sets ``TOURLAB_GRADEBOOK_URL`` for every learner's server, and JupyterHub gives the
server (and so its kernels) ``JUPYTERHUB_API_TOKEN``. With both set, :func:`report_check` posts
the result to ``<url>/api/results`` on a daemon thread (a *self-reported* result: the hub's
regrade verifies it on the learner's workspace files); the gradebook asks the hub whose token
it is, so a learner can only ever report for themselves. Without them (a laptop, Binder) it
does nothing. It never raises and never prints: a gradebook that is down must not disturb a
notebook.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from datetime import UTC, datetime

from tourlab import poll

URL_ENV = "TOURLAB_GRADEBOOK_URL"
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
#: Seconds one POST may take before it is given up.
TIMEOUT = 5.0

_pending: set[threading.Thread] = set()
_lock = threading.Lock()


def gradebook_url() -> str | None:
    """Where results go (``$TOURLAB_GRADEBOOK_URL``), or None outside the classroom hub."""
    url = os.environ.get(URL_ENV, "").strip()
    return url.rstrip("/") or None


def report_check(
    exercise_id: str, section_id: str, passed: bool, message: str | None, *, solution_applied: bool = False
) -> None:
    """Post one check result to the gradebook in the background (no-op outside the hub).

    ``solution_applied``: the learner had applied the exercise's reference solution (or continued
    from the section's checkpoint) before this check; the gradebook shows "solution applied".
    """
    try:
        url, token = gradebook_url(), os.environ.get(TOKEN_ENV, "").strip()
        if url is None or not token:
            return
        body = {
            "exercise": exercise_id,
            "section": section_id,
            "passed": bool(passed),
            "message": message,
            "solution_applied": bool(solution_applied),
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        thread = threading.Thread(
            target=_post, args=(f"{url}/api/results", token, body), name="tourlab-gradebook", daemon=True
        )
        with _lock:
            _pending.add(thread)
        thread.start()
    except Exception:  # noqa: BLE001 - reporting must never break a check
        return


def wait_for_reports(timeout: float = TIMEOUT) -> bool:
    """Wait until the reports sent so far are delivered or given up; True if none is left."""

    def delivered() -> bool:
        with _lock:
            return not any(thread.is_alive() for thread in _pending)

    return poll(delivered, timeout=timeout, interval=0.02).ok


def _post(url: str, token: str, body: dict[str, object]) -> None:
    try:
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        # The gradebook sits next to the hub: never send the learner's token through a proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=TIMEOUT) as response:
            response.read()
    except Exception:  # noqa: BLE001 - a lost report is better than a broken notebook
        pass
    finally:
        with _lock:
            _pending.discard(threading.current_thread())
