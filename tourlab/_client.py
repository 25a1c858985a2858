"""Invoke handlers and ask Restate what it did, over one shared HTTP client.

Pass ``transport=httpx.MockTransport(...)`` to answer from recorded responses in unit tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final
from urllib.parse import quote

import httpx

from tourlab._errors import InvocationError, InvocationTimeoutError, LabError, RegistrationError
from tourlab._http import prompt_transport, unreachable
from tourlab._model import (
    Deployment,
    Invocation,
    InvocationStatus,
    JournalEntry,
    Submission,
    Timer,
    decode_value,
    delayed_call_timers,
    parse_deployments,
    parse_journal,
    sleep_timers,
)
from tourlab._wait import poll


class _NoArgument:
    """The type of NO_ARG."""

    def __repr__(self) -> str:
        return "NO_ARG"


#: "Call this handler without an input" (``None`` would send JSON ``null``).
NO_ARG: Final = _NoArgument()

_JSON = {"content-type": "application/json"}
#: The sys_invocation columns the lab reads. Naming them is faster than ``*``; Restate 1.7 fills
#: ``scheduled_start_at`` only when ``scheduled_at`` is selected with it.
_INVOCATION_COLUMNS = (
    "id, target, status, retry_count, last_failure, trace_id, idempotency_key, completion_result, "
    "completion_failure, created_at, scheduled_at, scheduled_start_at, invoked_by, invoked_by_id, "
    "invoked_by_target, suspended_waiting_for_signals"
)
#: Minus the in-flight columns: the base table answers these at a third of the cost of the view.
_STATUS_COLUMNS = _INVOCATION_COLUMNS.replace("retry_count, last_failure, ", "")
#: Statuses in which an invocation is never in flight: the base table says all there is about them.
_NEVER_IN_FLIGHT = ("completed", "scheduled")
_UNFINISHED_LIMIT = 100  # the unfinished invocations that timers() looks at
_STATE_SELECT = "SELECT service_name, service_key, key, value_utf8 FROM state"
#: The journal rows that say when a sleep fires and whether it has.
_SLEEP_ROWS = "entry_type = 'Command: Sleep' OR entry_type LIKE 'Notification%'"
_JOURNAL_COLUMNS = "id, index, entry_type, name, entry_lite_json, entry_json, appended_at"
#: What the ingress answers for the output of an invocation that has not finished yet.
NOT_READY = 470


def _delay_param(delay: float | timedelta | None) -> dict[str, str]:
    if delay is None:
        return {}
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
    return {"delay": f"{round(seconds * 1000)}ms"}


def target_path(service: str, key: str | None, handler: str) -> str:
    """The ingress path of a handler: ``/CartObject/Mary/addTicket`` (no key for services)."""
    return f"/{service}/{quote(key, safe='')}/{handler}" if key is not None else f"/{service}/{handler}"


def sql_text(value: str) -> str:
    """`value` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text.strip()


class AdminIngressClient:
    """Calls through Restate's ingress and introspection through its admin API.

    Every request goes through `_request`, the one place httpx's failures become LabErrors.

    >>> client = AdminIngressClient("http://127.0.0.1:9070", "http://127.0.0.1:8080")
    >>> client.call("CartObject", "Mary", "addTicket", "seat2B")
    True
    """

    def __init__(
        self,
        admin_url: str,
        ingress_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.ingress_url = ingress_url.rstrip("/")
        self.timeout = timeout
        self.http = httpx.Client(timeout=timeout, transport=transport or prompt_transport(admin_url, ingress_url))
        self.last_invocation_id: str | None = None
        self._inputs: dict[str, Any] = {}  # the inputs of delayed calls seen by timers(), by invocation id

    def close(self) -> None:
        self.http.close()

    def _request(
        self, method: str, url: str, *, no_answer: str | None = None, invocation_id: str | None = None, **options: Any
    ) -> httpx.Response:
        """`self.http.request`, with httpx's failures turned into LabErrors (here only).

        A request that reached Restate but got no answer within its timeout raises
        InvocationTimeoutError(`no_answer`) when the caller waits for a handler; any other
        transport failure means Restate is unreachable.
        """
        try:
            return self.http.request(method, url, **options)
        except httpx.TransportError as error:
            if no_answer is not None and isinstance(error, httpx.ReadTimeout):
                raise InvocationTimeoutError(no_answer, invocation_id=invocation_id) from None
            raise unreachable(url, error) from None

    # -- invoking ---------------------------------------------------------------------------

    def call(
        self,
        service: str,
        key: str | None,
        handler: str,
        arg: Any = NO_ARG,
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Invoke a handler and wait for its result (request-response through the ingress)."""
        url = self.ingress_url + target_path(service, key, handler)
        wait = timeout if timeout is not None else self.timeout
        response = self._request(
            "POST",
            url,
            **self._body(arg, idempotency_key),
            timeout=wait,
            no_answer=f"{service}/{handler} gave no answer within {wait:g} s. Restate is probably retrying a "
            "failing handler: look at lab.invocations() and the endpoint log (lab.logs()).",
        )
        self.last_invocation_id = response.headers.get("x-restate-id")
        return self._result(response, f"{service}/{handler}")

    def send(
        self,
        service: str,
        key: str | None,
        handler: str,
        arg: Any = NO_ARG,
        *,
        delay: float | timedelta | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Invoke a handler one-way (optionally after `delay`); returns the invocation id."""
        url = self.ingress_url + target_path(service, key, handler) + "/send"
        response = self._request("POST", url, params=_delay_param(delay), **self._body(arg, idempotency_key))
        body = self._result(response, f"{service}/{handler}/send")
        invocation_id = str(body["invocationId"])
        self.last_invocation_id = invocation_id
        return invocation_id

    def submit(
        self, workflow: str, key: str, arg: Any = NO_ARG, *, delay: float | timedelta | None = None
    ) -> Submission:
        """Start a workflow's run for `key`; a second submit of the same key answers ``PreviouslyAccepted``."""
        url = self.ingress_url + target_path(workflow, key, "run") + "/send"
        response = self._request("POST", url, params=_delay_param(delay), **self._body(arg, None))
        body = self._result(response, f"{workflow}/{key}/run/send")
        self.last_invocation_id = str(body["invocationId"])
        return Submission(self.last_invocation_id, str(body.get("status", "")))

    def _result_url(self, handle: str, what: str) -> str:
        """``inv_...`` or ``Workflow/key``: where the ingress keeps that invocation's result."""
        if "/" in handle:
            workflow, key = handle.split("/", 1)
            return f"{self.ingress_url}/restate/workflow/{quote(workflow, safe='')}/{quote(key, safe='')}/{what}"
        return f"{self.ingress_url}/restate/invocation/{quote(handle, safe='')}/{what}"

    def attach(self, handle: str, *, timeout: float) -> Any:
        """Wait up to `timeout` s for an invocation (``inv_...``) or a workflow (``Workflow/key``) to finish.

        Returns its result; InvocationError if it failed; InvocationTimeoutError if it is still going.
        """
        response = self._request(
            "GET",
            self._result_url(handle, "attach"),
            timeout=timeout,
            no_answer=f"{handle} did not finish within {timeout:g} s.",
            invocation_id=handle,
        )
        return self._result(response, handle)

    def output(self, handle: str) -> Any:
        """The result of a finished invocation (``inv_...``) or workflow (``Workflow/key``), without waiting.

        InvocationError if it failed or has not finished yet (HTTP 470).
        """
        return self._result(self._request("GET", self._result_url(handle, "output")), f"the output of {handle}")

    def resolve_awakeable(self, awakeable_id: str, value: Any = NO_ARG) -> None:
        """Complete an awakeable from outside, with a value: what an external system's callback does."""
        url = f"{self.ingress_url}/restate/awakeables/{quote(awakeable_id, safe='')}/resolve"
        self._result(self._request("POST", url, **self._body(value, None)), f"resolve {awakeable_id}")

    def reject_awakeable(self, awakeable_id: str, reason: str) -> None:
        """Fail an awakeable from outside: the waiting handler gets a TerminalError with `reason`."""
        url = f"{self.ingress_url}/restate/awakeables/{quote(awakeable_id, safe='')}/reject"
        response = self._request("POST", url, content=reason.encode(), headers={"content-type": "text/plain"})
        self._result(response, f"reject {awakeable_id}")

    @staticmethod
    def _body(arg: Any, idempotency_key: str | None) -> dict[str, Any]:
        headers = dict(_JSON) if arg is not NO_ARG else {}
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        try:
            content = json.dumps(arg).encode() if arg is not NO_ARG else b""
        except TypeError as error:
            raise LabError(f"The argument must be JSON data (str, number, bool, list, dict): {error}") from None
        return {"content": content, "headers": headers}

    @staticmethod
    def _result(response: httpx.Response, what: str) -> Any:
        if response.is_success:
            return response.json() if response.content else None
        if response.status_code == NOT_READY:
            raise InvocationError(
                f"{what}: not finished yet (HTTP {NOT_READY}); lab.attach(...) waits for it.",
                status_code=NOT_READY,
                invocation_id=response.headers.get("x-restate-id"),
            )
        raise InvocationError(
            f"{what} failed with HTTP {response.status_code}: {_message(response)}",
            status_code=response.status_code,
            invocation_id=response.headers.get("x-restate-id"),
        )

    # -- introspection ---------------------------------------------------------------------

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run SQL against Restate's introspection tables (the admin ``/query`` API)."""
        # Uncompressed: Restate would gzip each answer, which costs both sides more CPU than it saves here.
        headers = {"accept": "application/json", "accept-encoding": "identity"}
        response = self._request("POST", f"{self.admin_url}/query", json={"query": sql}, headers=headers)
        if not response.is_success:
            raise LabError(f"Restate rejected the query ({response.status_code}): {response.text.strip()}")
        return list(response.json()["rows"])

    def invocation(self, invocation_id: str) -> Invocation | None:
        """Status, retry count, last failure and trace id of one invocation."""
        rows = self.query(f"SELECT {_INVOCATION_COLUMNS} FROM sys_invocation WHERE id = {sql_text(invocation_id)}")
        return Invocation.from_row(rows[0]) if rows else None

    def invocations(self, *, target: str | None = None, limit: int = 20) -> list[Invocation]:
        """The most recent invocations, newest first, optionally of one target prefix.

        Listed from the base table; the ones that may be in flight are read again from the view
        (retries, last failure), so a list of finished ones costs one cheap query.
        """
        where = f"WHERE target LIKE {sql_text(target + '%')}" if target else ""
        rows = self.query(
            f"SELECT {_STATUS_COLUMNS} FROM sys_invocation_status {where} ORDER BY created_at DESC LIMIT {int(limit)}"
        )
        live = [row["id"] for row in rows if row["status"] not in _NEVER_IN_FLIGHT]
        full = {row["id"]: row for row in self._per_id("sys_invocation", _INVOCATION_COLUMNS, dict.fromkeys(live, ""))}
        return [Invocation.from_row(full.get(row["id"], row)) for row in rows]

    def journal(self, invocation_id: str) -> list[JournalEntry]:
        """The journal of an invocation, in order."""
        return self.journals([invocation_id])[invocation_id]

    def journals(self, invocation_ids: list[str] | dict[str, str], *, where: str = "") -> dict[str, list[JournalEntry]]:
        """The journals of several invocations, in one query: all rows, the rows `where` selects, or
        (`invocation_ids` a dict) the rows each id's own condition selects."""
        wanted = invocation_ids if isinstance(invocation_ids, dict) else dict.fromkeys(invocation_ids, where)
        grouped: dict[str, list[dict[str, Any]]] = {invocation_id: [] for invocation_id in wanted}
        for row in self._per_id("sys_journal", _JOURNAL_COLUMNS, wanted):
            grouped[row["id"]].append(row)
        return {invocation_id: parse_journal(rows) for invocation_id, rows in grouped.items()}

    def _per_id(self, table: str, columns: str, wanted: dict[str, str]) -> list[dict[str, Any]]:
        """Rows of `table` for each id that its condition ('' for all) selects, ordered by id then index.

        One SELECT per id joined with UNION ALL: Restate answers ``id = ...`` from the invocation's
        partition at once, while ``id IN (...)`` makes it scan (tens of ms for a handful of ids).
        """
        selects = [
            f"SELECT {columns} FROM {table} WHERE id = {sql_text(one)}" + (f" AND ({where})" if where else "")
            for one, where in sorted(wanted.items())
        ]
        if not selects:
            return []
        return sorted(self.query(" UNION ALL ".join(selects)), key=lambda row: (row["id"], row.get("index", 0)))

    def state(self, service: str, key: str) -> dict[str, Any]:
        """The K/V state of one Virtual Object key, values decoded from JSON where possible."""
        return self.states([(service, key)]).get((service, key), {})

    def states(
        self, objects: list[tuple[str, str]], *, services: tuple[str, ...] = ()
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The K/V state of several (service, key) objects and of every key of `services`, in one query.

        Every object asked for is in the answer (``{}``: no state); a key of `services` only if it has state.
        """
        selects = [  # one SELECT per object: see _per_id
            f"{_STATE_SELECT} WHERE service_name = {sql_text(service)} AND service_key = {sql_text(key)}"
            for service, key in objects
        ] + [f"{_STATE_SELECT} WHERE service_name = {sql_text(service)}" for service in services]
        if not selects:
            return {}
        found: dict[tuple[str, str], dict[str, Any]] = {obj: {} for obj in objects}
        for row in self.query(" UNION ALL ".join(selects)):
            value = decode_value(row.get("value_utf8"))
            found.setdefault((row["service_name"], row["service_key"]), {})[row["key"]] = value
        return found

    def service_state(self, service: str) -> dict[str, dict[str, Any]]:
        """The K/V state of every key of a Virtual Object (or workflow), by key."""
        return {key: dict(sorted(kv.items())) for (_, key), kv in sorted(self.states([], services=(service,)).items())}

    def set_state(self, service: str, key: str, values: dict[str, Any]) -> None:
        """Replace the K/V state of one Virtual Object key (what ``restate kv edit`` does)."""
        new_state = {name: list(json.dumps(value).encode()) for name, value in values.items()}
        response = self._request(
            "POST",
            f"{self.admin_url}/services/{quote(service, safe='')}/state",
            json={"object_key": key, "new_state": new_state},
        )
        if not response.is_success:
            raise LabError(
                f"Restate refused the state of {service}/{key} ({response.status_code}): {_message(response)}"
            )

    def timers(self, senders: Callable[[], list[JournalEntry]] = list) -> list[Timer]:
        """Delayed calls waiting to start and sleeps waiting to wake up, soonest first.

        One query lists the unfinished invocations: the scheduled ones are the delayed calls; the
        journals of the others (if any) are read for their ``ctx.sleep`` entries. A delayed call's
        input is read once, or not at all when `senders()` (journal entries read anyway, a round's
        selected journal) holds the send: its entry carries the argument.
        """
        unfinished = self.query(
            "SELECT id, target, status, scheduled_at, scheduled_start_at, invoked_by, invoked_by_target "
            f"FROM sys_invocation_status WHERE status <> 'completed' LIMIT {_UNFINISHED_LIMIT}"
        )
        scheduled = [row for row in unfinished if row["status"] == "scheduled"]
        started = [row for row in unfinished if row["status"] != "scheduled"]
        known = self._inputs
        if any(row["id"] not in known for row in scheduled):
            known = {**{e.callee_id: e.value for e in senders() if e.kind == "OneWayCall" and e.callee_id}, **known}
        # One more query at most: the inputs still unknown, and the sleep entries of the started ones.
        wanted = {row["id"]: "index = 0" for row in scheduled if row["id"] not in known}
        wanted.update((row["id"], _SLEEP_ROWS) for row in started)
        journals = self.journals(wanted)
        # A delayed call has not started: its journal holds just its input, which never changes.
        self._inputs = {
            row["id"]: known[row["id"]] if row["id"] in known else next((e.value for e in journals[row["id"]]), None)
            for row in scheduled
        }
        found = [*delayed_call_timers(scheduled, self._inputs), *sleep_timers(started, journals)]
        return sorted(found, key=lambda timer: timer.fires_at or 0)

    def wait_for(
        self, invocation_id: str, statuses: tuple[InvocationStatus, ...] = ("completed",), *, timeout: float
    ) -> Invocation:
        """Poll until the invocation reaches one of `statuses`; returns it."""
        polled = poll(
            lambda: self.invocation(invocation_id),
            lambda seen: seen is not None and seen.status in statuses,
            timeout=timeout,
            interval=0.02,
            max_interval=0.2,
        )
        if polled.value is None or not polled.ok:
            status = polled.value.status if polled.value else "unknown"
            raise InvocationError(
                f"Invocation {invocation_id} is still {status!r} after {timeout:g} s "
                f"(waited for {', '.join(statuses)}).",
                invocation_id=invocation_id,
            )
        return polled.value

    # -- management ------------------------------------------------------------------------

    def resume(self, invocation_id: str) -> None:
        """Retry a backing-off or paused invocation now."""
        self._manage(invocation_id, "resume")

    def cancel(self, invocation_id: str) -> None:
        """Cancel an invocation: it stops at its next step and compensating code can run."""
        self._manage(invocation_id, "cancel")

    def kill(self, invocation_id: str) -> None:
        """Kill an invocation immediately, without running any more of its code."""
        self._manage(invocation_id, "kill")

    def _manage(self, invocation_id: str, action: str) -> None:
        url = f"{self.admin_url}/invocations/{quote(invocation_id, safe='')}/{action}"
        response = self._request("PATCH", url)
        if not response.is_success:
            raise LabError(f"Could not {action} {invocation_id} ({response.status_code}): {response.text.strip()}")

    def register(self, uri: str, *, force: bool = True) -> dict[str, Any]:
        """Register the endpoint at `uri`; returns Restate's answer.

        ``force`` replaces what is registered at that URI (the lab's hot reload); without it a
        new URI becomes a new deployment next to the old ones (a new version, in production).
        """
        response = self._request("POST", f"{self.admin_url}/deployments", json={"uri": uri, "force": force})
        if not response.is_success:
            raise RegistrationError(
                f"Restate refused the endpoint {uri} ({response.status_code}): "
                f"{_message(response)}\nThe previous version keeps serving."
            )
        return dict(response.json())

    def deployments(self) -> list[Deployment]:
        """Every registered deployment, newest first, with its unfinished pinned invocations."""
        response = self._request("GET", f"{self.admin_url}/deployments")
        if not response.is_success:
            raise LabError(f"Restate did not list its deployments ({response.status_code}): {_message(response)}")
        rows = self.query(
            "SELECT pinned_deployment_id, count(*) AS pinned FROM sys_invocation "
            "WHERE status <> 'completed' AND pinned_deployment_id IS NOT NULL GROUP BY pinned_deployment_id"
        )
        pinned = {row["pinned_deployment_id"]: int(row["pinned"]) for row in rows}
        return parse_deployments(response.json()["deployments"], pinned)

    def remove_deployment(self, deployment_id: str) -> None:
        """Delete a deployment from Restate's registry (1.7 only deletes with ``force``)."""
        url = f"{self.admin_url}/deployments/{quote(deployment_id, safe='')}"
        response = self._request("DELETE", url, params={"force": "true"})
        if not response.is_success:
            raise LabError(f"Restate did not remove {deployment_id} ({response.status_code}): {_message(response)}")
