"""Links to web UIs that work where the notebook runs: locally, or behind JupyterHub / Binder.

Behind JupyterHub the browser cannot reach ``127.0.0.1:<port>`` of the kernel's machine;
jupyter-server-proxy serves it at ``${JUPYTERHUB_SERVICE_PREFIX}proxy/<port>/``. (The Restate UI
cannot run under such a path prefix: ``Lab.restate_ui_url`` is None there.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from tourlab._config import LOCAL_HOSTS

__all__ = ["browser_url", "jaeger_trace_url", "jaeger_url", "service_prefix"]


def service_prefix(env: Mapping[str, str] | None = None) -> str | None:
    """The JupyterHub/Binder path prefix of this notebook server, if any (ends with ``/``)."""
    env = os.environ if env is None else env
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
    if not prefix:
        return None
    return prefix if prefix.endswith("/") else prefix + "/"


def browser_url(url: str, env: Mapping[str, str] | None = None) -> str:
    """`url` as the learner's browser can open it (through the proxy for loopback URLs)."""
    prefix = service_prefix(env)
    parts = urlsplit(url)
    if prefix is None or parts.hostname not in LOCAL_HOSTS or parts.port is None:
        return url
    path = parts.path.lstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{prefix}proxy/{parts.port}/{path}{query}"


def jaeger_url(env: Mapping[str, str] | None = None) -> str | None:
    """The Jaeger UI (``TOURLAB_JAEGER_URL``, set by docker compose) as the browser reaches it."""
    env = os.environ if env is None else env
    base = env.get("TOURLAB_JAEGER_URL")
    return browser_url(base.rstrip("/"), env).rstrip("/") if base else None


def jaeger_trace_url(trace_id: str, env: Mapping[str, str] | None = None) -> str | None:
    """``<jaeger>/trace/<trace_id>`` if a Jaeger is configured."""
    base = jaeger_url(env)
    return f"{base}/trace/{trace_id}" if base else None
