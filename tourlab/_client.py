"""Invoke handlers and ask Restate what it did, over one shared HTTP client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from tourlab._errors import InvocationError, LabError, RegistrationError

_JSON = {"content-type": "application/json"}
_NO_VALUE = object()
TERMINAL_STATUSES = frozenset({"completed"})


@dataclass(frozen=True)
class Invocation:
    """What Restate knows about one invocation (a row of ``sys_invocation``)."""

    id: str
    target: str
    status: str
    retry_count: int = 0
    last_failure: str | None = None
    trace_id: str | None = None
    idempotency_key: str | None = None
    completion_result: str | None = None
    completion_failure: str | None = None
    created_at: str | None = None
    scheduled_start_at: str | None = None
    invoked_by_id: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Invocation:
        return cls(
            id=row["id"],
            target=row["target"],
            status=row["status"],
            retry_count=int(row.get("retry_count") or 0),
            last_failure=row.get("last_failure"),
            trace_id=row.get("trace_id"),
            idempotency_key=row.get("idempotency_key"),
            completion_result=row.get("completion_result"),
            completion_failure=row.get("completion_failure"),
            created_at=row.get("created_at"),
            scheduled_start_at=row.get("scheduled_start_at"),
            invoked_by_id=row.get("invoked_by_id"),
        )


@dataclass(frozen=True)
class JournalEntry:
    """One entry of an invocation's journal (a row of ``sys_journal``).

    ``name`` is the name of a ``ctx.run`` step or the key of a state command; ``target`` is
    the handler a call or send goes to; ``completed`` says whether Restate has recorded the
    result of a command that waits for one (a call, a run step, a sleep).
    """

    index: int
    entry_type: str
    name: str | None = None
    target: str | None = None
    completed: bool | None = None
    wake_up_at: str | None = None
    callee_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_command(self) -> bool:
        return self.entry_type.startswith("Command")


def _target_text(target: dict[str, Any]) -> str:
    (_kind, spec), *_ = target.items()
    key = spec.get("key")
    return f"{spec['name']}/{key}/{spec['handler']}" if key is not None else f"{spec['name']}/{spec['handler']}"


def _millis_to_iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="milliseconds")


def parse_journal(rows: list[dict[str, Any]]) -> list[JournalEntry]:
    """Turn ``sys_journal`` rows into entries, matching commands with their completions."""
    details = [json.loads(row.get("entry_lite_json") or "{}") for row in rows]
    completed_ids = {
        detail["Notification"]["id"].get("CompletionId")
        for detail in details
        if "Notification" in detail and isinstance(detail["Notification"].get("id"), dict)
    }
    entries = []
    for row, detail in zip(rows, details, strict=True):
        name = row.get("name") or None
        target = callee = wake_up = None
        completed: bool | None = None
        if "Command" in detail:
            (command, body), *_ = detail["Command"].items() if detail["Command"] else [("", {})]
            body = body or {}
            name = name or body.get("name") or body.get("key") or None
            if "invocation_target" in body:
                target = _target_text(body["invocation_target"])
                callee = body.get("invocation_id")
            if command == "Sleep" and "wake_up_time" in body:
                wake_up = _millis_to_iso(body["wake_up_time"])
            if command == "OneWayCall" and body.get("invoke_time"):
                wake_up = _millis_to_iso(body["invoke_time"])
            waits_for = body.get("result_completion_id", body.get("completion_id"))
            completed = waits_for in completed_ids if waits_for is not None else True
        entries.append(
            JournalEntry(
                index=int(row["index"]),
                entry_type=row["entry_type"],
                name=name,
                target=target,
                completed=completed,
                wake_up_at=wake_up,
                callee_id=callee,
                raw=row,
            )
        )
    return entries


def _delay_param(delay: float | timedelta | None) -> dict[str, str]:
    if delay is None:
        return {}
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
    return {"delay": f"{round(seconds * 1000)}ms"}


def _path(service: str, key: str | None, handler: str) -> str:
    return f"/{service}/{quote(key, safe='')}/{handler}" if key is not None else f"/{service}/{handler}"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class RestateClient:
    """Calls through the ingress and introspection through the admin API.

    >>> client = RestateClient("http://127.0.0.1:9070", "http://127.0.0.1:8080")
    >>> client.call("CartObject", "Mary", "addTicket", "seat2B")
    True
    """

    def __init__(self, admin_url: str, ingress_url: str, *, timeout: float = 10.0) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.ingress_url = ingress_url.rstrip("/")
        self.timeout = timeout
        self.http = httpx.Client(timeout=timeout)
        self.last_invocation_id: str | None = None

    def close(self) -> None:
        self.http.close()

    # -- invoking ---------------------------------------------------------------------------

    def call(
        self,
        service: str,
        key: str | None,
        handler: str,
        arg: Any = _NO_VALUE,
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Invoke a handler and wait for its result (request-response through the ingress)."""
        url = self.ingress_url + _path(service, key, handler)
        wait = timeout if timeout is not None else self.timeout
        try:
            response = self.http.post(url, **self._body(arg, idempotency_key), timeout=wait)
        except httpx.TimeoutException:
            raise InvocationError(
                f"{service}/{handler} gave no answer within {wait:g} s. Restate is probably retrying a "
                "failing handler: look at lab.invocations() and the endpoint log (lab.logs())."
            ) from None
        self.last_invocation_id = response.headers.get("x-restate-id")
        return self._result(response, f"{service}/{handler}")

    def send(
        self,
        service: str,
        key: str | None,
        handler: str,
        arg: Any = _NO_VALUE,
        *,
        delay: float | timedelta | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Invoke a handler one-way (optionally after `delay`); returns the invocation id."""
        url = self.ingress_url + _path(service, key, handler) + "/send"
        response = self.http.post(url, params=_delay_param(delay), **self._body(arg, idempotency_key))
        body = self._result(response, f"{service}/{handler}/send")
        self.last_invocation_id = body["invocationId"]
        return self.last_invocation_id

    @staticmethod
    def _body(arg: Any, idempotency_key: str | None) -> dict[str, Any]:
        headers = dict(_JSON) if arg is not _NO_VALUE else {}
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        try:
            content = json.dumps(arg).encode() if arg is not _NO_VALUE else b""
        except TypeError as error:
            raise LabError(f"The argument must be JSON data (str, number, bool, list, dict): {error}") from None
        return {"content": content, "headers": headers}

    def _result(self, response: httpx.Response, what: str) -> Any:
        if response.is_success:
            return response.json() if response.content else None
        raise InvocationError(
            f"{what} failed with HTTP {response.status_code}: {_message(response)}",
            status_code=response.status_code,
            invocation_id=response.headers.get("x-restate-id"),
        )

    # -- introspection ---------------------------------------------------------------------

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run SQL against Restate's introspection tables (the admin ``/query`` API)."""
        response = self.http.post(
            f"{self.admin_url}/query", json={"query": sql}, headers={"accept": "application/json"}
        )
        if not response.is_success:
            raise LabError(f"Restate rejected the query ({response.status_code}): {response.text.strip()}")
        return list(response.json()["rows"])

    def invocation(self, invocation_id: str) -> Invocation | None:
        """Status, retry count, last failure and trace id of one invocation."""
        rows = self.query(f"SELECT * FROM sys_invocation WHERE id = {_sql_str(invocation_id)}")
        return Invocation.from_row(rows[0]) if rows else None

    def invocations(self, *, target: str | None = None, limit: int = 20) -> list[Invocation]:
        """The most recent invocations, newest first, optionally of one target prefix."""
        where = f"WHERE target LIKE {_sql_str(target + '%')}" if target else ""
        rows = self.query(f"SELECT * FROM sys_invocation {where} ORDER BY created_at DESC LIMIT {int(limit)}")
        return [Invocation.from_row(row) for row in rows]

    def journal(self, invocation_id: str) -> list[JournalEntry]:
        """The journal of an invocation, in order."""
        rows = self.query(
            "SELECT index, entry_type, name, entry_lite_json, appended_at FROM sys_journal "
            f"WHERE id = {_sql_str(invocation_id)} ORDER BY index"
        )
        return parse_journal(rows)

    def state(self, service: str, key: str) -> dict[str, Any]:
        """The K/V state of one Virtual Object key, values decoded from JSON where possible."""
        rows = self.query(
            f"SELECT key, value_utf8 FROM state WHERE service_name = {_sql_str(service)} "
            f"AND service_key = {_sql_str(key)} ORDER BY key"
        )
        return {row["key"]: _decode(row.get("value_utf8")) for row in rows}

    def wait_for(
        self, invocation_id: str, statuses: Iterable[str] = TERMINAL_STATUSES, *, timeout: float = 30.0
    ) -> Invocation:
        """Poll until the invocation reaches one of `statuses`; returns its last known state."""
        wanted = set(statuses)
        deadline = time.monotonic() + timeout
        seen: Invocation | None = None
        while time.monotonic() < deadline:
            seen = self.invocation(invocation_id)
            if seen is not None and seen.status in wanted:
                return seen
            time.sleep(0.05)
        status = seen.status if seen else "unknown"
        raise InvocationError(
            f"Invocation {invocation_id} is still {status!r} after {timeout:g} s (waited for {sorted(wanted)}).",
            invocation_id=invocation_id,
        )

    # -- management ------------------------------------------------------------------------

    def resume(self, invocation_id: str) -> None:
        """Retry a backing-off or paused invocation now."""
        self._manage("PATCH", invocation_id, "resume")

    def cancel(self, invocation_id: str) -> None:
        """Cancel an invocation: it stops at its next step and compensating code can run."""
        self._manage("PATCH", invocation_id, "cancel")

    def kill(self, invocation_id: str) -> None:
        """Kill an invocation immediately, without running any more of its code."""
        self._manage("PATCH", invocation_id, "kill")

    def purge(self, invocation_id: str) -> None:
        """Forget a completed invocation (its journal and result)."""
        self._manage("PATCH", invocation_id, "purge")

    def _manage(self, method: str, invocation_id: str, action: str) -> None:
        url = f"{self.admin_url}/invocations/{quote(invocation_id, safe='')}/{action}"
        response = self.http.request(method, url)
        if not response.is_success:
            raise LabError(f"Could not {action} {invocation_id} ({response.status_code}): {response.text.strip()}")

    def register(self, uri: str) -> dict[str, Any]:
        """Register (or re-register, with ``force``) the endpoint at `uri`; returns Restate's answer."""
        response = self.http.post(f"{self.admin_url}/deployments", json={"uri": uri, "force": True})
        if not response.is_success:
            raise RegistrationError(
                f"Restate refused the endpoint {uri} ({response.status_code}): "
                f"{_message(response)}\nThe previous version keeps serving."
            )
        return dict(response.json())


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text.strip()


def _decode(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value
