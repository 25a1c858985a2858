"""Traces read back from a Jaeger's HTTP API (a Restate that exports to Jaeger, as in docker compose)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from tourlab._model import Invocation
from tourlab._tracing.jaeger import spans_from_jaeger
from tourlab._tracing.model import Span
from tourlab._tracing.source import collect_trace
from tourlab._tracing.trace import Trace


class JaegerQuery:
    """Traces read back from a Jaeger's HTTP API, for a Restate that exports to Jaeger (docker compose).

    ``TOURLAB_JAEGER_API_URL`` is the Jaeger address as the *kernel* reaches it (e.g.
    ``http://jaeger:16686`` inside compose); ``TOURLAB_JAEGER_URL`` is the one for the browser.
    """

    def __init__(self, api_url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.http = httpx.Client(timeout=5, transport=transport)

    @property
    def description(self) -> str:
        return f"read from Jaeger at {self.api_url}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JaegerQuery | None:
        env = os.environ if env is None else env
        api = env.get("TOURLAB_JAEGER_API_URL")
        return cls(api) if api else None

    def spans(self, trace_id: str) -> list[Span]:
        response = self.http.get(f"{self.api_url}/api/traces/{trace_id}")
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(spans_from_jaeger(response.json()), key=lambda s: (s.start_ns, s.name))

    def trace_of(self, invocation: Invocation | None, invocation_id: str, *, timeout: float) -> Trace:
        trace_id = invocation.trace_id if invocation else None
        return collect_trace(trace_id, invocation, invocation_id, self.spans, timeout=timeout, interval=0.2)
