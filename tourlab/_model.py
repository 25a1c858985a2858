"""What Restate reports, as small Python objects: invocations, journal entries, timers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any, Literal

#: The ``status`` of a row of ``sys_invocation``.
InvocationStatus = Literal[
    "pending", "scheduled", "inboxed", "ready", "running", "backing-off", "suspended", "paused", "completed"
]
#: Statuses of an invocation that has not finished yet and may still change by itself.
ACTIVE_STATUSES: frozenset[InvocationStatus] = frozenset(
    {"pending", "ready", "running", "backing-off", "inboxed", "suspended"}
)
#: An invocation in one of these is waiting for its turn on its Virtual Object key.
QUEUED_STATUSES: frozenset[InvocationStatus] = frozenset({"pending", "inboxed", "ready"})
#: An invocation in one of these holds its Virtual Object key.
HOLDING_STATUSES: frozenset[InvocationStatus] = frozenset({"running", "backing-off", "suspended", "paused"})
#: Its last attempt failed: Restate retries it later (backing-off) or waits for lab.resume() (paused).
FAILING_STATUSES: frozenset[InvocationStatus] = frozenset({"backing-off", "paused"})

#: How an invocation that cannot finish depends on the failing one (see ``tourlab._diagnose.Stuck``).
StuckRelation = Literal["itself", "calls", "waits for the key", "deadlock"]


@dataclass(frozen=True)
class Invocation:
    """What Restate knows about one invocation (a row of ``sys_invocation``)."""

    id: str
    target: str
    status: InvocationStatus
    retry_count: int = 0
    last_failure: str | None = None
    trace_id: str | None = None
    idempotency_key: str | None = None
    completion_result: str | None = None
    completion_failure: str | None = None
    created_at: str | None = None
    scheduled_start_at: str | None = None
    invoked_by_id: str | None = None
    invoked_by_target: str | None = None
    #: Signals a suspended invocation waits for: 1 is a cancel, 17 and up are awakeables.
    waiting_signals: tuple[int, ...] = ()

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
            invoked_by_target=row.get("invoked_by_target"),
            waiting_signals=tuple(row.get("suspended_waiting_for_signals") or ()),
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def failure(self) -> str:
        """The handler's exception line of the last failed attempt ('' if none failed)."""
        return failure_summary(self.last_failure)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(:.*)?$")
_FRAME = re.compile(r'^File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')


def failure_summary(text: str | None) -> str:
    """The handler's exception and where the handler's own code raised it, out of Restate's failure text.

    Restate's text is ``[500 Internal] TypeError(...)`` followed by the Python traceback:
    ``TypeError: 'dict' object is not an instance of 'str' (cart_object.py line 13, in add_ticket)``.
    """
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    unreachable = re.search(r"error when calling '([^']+)'.*(Connection refused|connection error|timed out)", lines[0])
    if unreachable:
        return (
            f"Restate cannot reach the endpoint at {unreachable[1]} ({unreachable[2].lower()}): "
            "it keeps retrying until the endpoint is back"
        )
    if "Journal mismatch" in lines[0]:
        return _mismatch_summary(lines)
    exception = next((line for line in reversed(lines) if _EXCEPTION_LINE.match(line)), None)
    if exception is None:
        return re.sub(r"^\[[^\]]*\] ", "", lines[0])
    frames = [found for line in lines if (found := _FRAME.match(line))]
    own = [frame for frame in frames if "site-packages" not in frame["path"] and "/lib/python" not in frame["path"]]
    if own:
        frame = own[-1]
        return f"{exception} ({PurePath(frame['path']).name} line {frame['line']}, in {frame['function']})"
    return exception


def _mismatch_summary(lines: list[str]) -> str:
    """``Journal mismatch: the journal has 'run' (index 1), this attempt does 'call'``."""
    text = " ".join(lines)
    recorded = re.search(r"recorded the following: ('[^']*') \(index '(\d+)'\)", text)
    attempted = re.search(r"attempts to perform the following: ('[^']*')", text)
    difference = re.search(r"Difference:\s*(.*)$", text)
    if recorded and attempted:
        return (
            f"Journal mismatch: the journal has {recorded[1]} (index {recorded[2]}), "
            f"this attempt does {attempted[1]} (the code took another path)"
        )
    if difference:
        return f"Journal mismatch: {difference[1].strip()} (the code took another path)"
    return "Journal mismatch: the code took another path than the journal recorded"


@dataclass(frozen=True)
class JournalEntry:
    """One entry of an invocation's journal (a row of ``sys_journal``).

    ``name`` is the name of a run step or the key of a state command; ``target`` is the
    handler a call or send goes to; ``completed`` says whether Restate has recorded the result
    of a command that waits for one (a call, a run step, a sleep). ``payload`` holds the bytes
    the entry carries: the input, a call's argument, a state value, a result.
    """

    index: int
    entry_type: str
    name: str | None = None
    target: str | None = None
    completed: bool | None = None
    wake_up_at: str | None = None
    callee_id: str | None = None
    payload: bytes | None = None
    #: For a completion: what the command it completes does (``step 'payment'``).
    completes: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_command(self) -> bool:
        return self.entry_type.startswith("Command")

    @property
    def value(self) -> Any:
        """The payload as JSON data (None without one; the text where it is not JSON)."""
        return None if self.payload is None else decode_value(self.payload.decode(errors="replace"))

    @property
    def kind(self) -> str:
        """``Call``, ``GetPromise``, ``Sleep``, ... (the entry type without its family)."""
        return self.entry_type.split(": ", 1)[-1]

    @property
    def summary(self) -> str:
        """What the entry means, in a few words: ``promise 'payment'``, ``timer until 10:00:05``, ..."""
        wake = f" until {self.wake_up_at[11:19]} UTC" if self.wake_up_at else ""
        if not self.is_command:
            signal = self.raw_id("SignalIndex")
            if signal == 1:
                return "the cancel signal"
            if signal is not None:
                return "an awakeable completed"
            if self.kind == "CallInvocationId":
                return "the callee's invocation id"
            return f"result of {self.completes}" if self.completes else "a result"
        texts = {
            "Call": f"call {self.target}",
            "OneWayCall": f"send {self.target}" + (f" at {self.wake_up_at[11:19]} UTC" if self.wake_up_at else ""),
            "Run": f"step '{self.name}'",
            "Sleep": f"timer{wake}",
            "GetPromise": f"promise '{self.name}'",
            "PeekPromise": f"peek at promise '{self.name}'",
            "CompletePromise": f"complete promise '{self.name}'",
            "SendSignal": "cancel a callee",
            "GetEagerState": f"get '{self.name}'",
            "GetLazyState": f"get '{self.name}'",
            "SetState": f"set '{self.name}'",
            "ClearState": f"clear '{self.name}'",
            "ClearAllState": "clear all state",
            "CompleteAwakeable": "complete an awakeable",
        }
        return texts.get(self.kind, self.kind)

    def raw_id(self, kind: str) -> int | None:
        """The ``CompletionId`` or ``SignalIndex`` of a notification, from its lite JSON."""
        found = _lite(self.raw).get("Notification", {}).get("id")
        value = found.get(kind) if isinstance(found, dict) else None
        return int(value) if value is not None else None


def _target_text(target: dict[str, Any]) -> str:
    (_kind, spec), *_ = target.items()
    key = spec.get("key")
    return f"{spec['name']}/{key}/{spec['handler']}" if key is not None else f"{spec['name']}/{spec['handler']}"


#: Keys of ``entry_json`` under which an entry carries its bytes (input, argument, state value, result).
_PAYLOAD_KEYS = frozenset({"payload", "parameter", "value", "Success", "Value"})


def _payload(detail: dict[str, Any]) -> bytes | None:
    """The first payload of an ``entry_json`` document, searched breadth first; None if empty."""
    pending = [detail]
    while pending:
        node = pending.pop(0)
        for key, value in node.items():
            if key in _PAYLOAD_KEYS and isinstance(value, list):
                return bytes(value) or None
            if isinstance(value, dict):
                pending.append(value)
    return None


def millis_to_iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _lite(row: dict[str, Any]) -> dict[str, Any]:
    try:
        found = json.loads(row.get("entry_lite_json") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


#: Commands an invocation can wait on, and what it then waits for.
_WAITS = {"Call": "a call to {target}", "GetPromise": "promise '{name}'", "Sleep": "a timer", "Run": "step '{name}'"}


def waiting_for(invocation: Invocation, entries: list[JournalEntry]) -> str | None:
    """What an unfinished invocation waits for, in words (None when it is done or just running)."""
    if invocation.status in QUEUED_STATUSES:
        return f"its turn on {invocation.target.rsplit('/', 1)[0]}"
    if invocation.status == "scheduled":
        return "its start time"
    if not invocation.active:
        return None
    last_notification = max((e.index for e in entries if not e.is_command), default=-1)
    open_commands = [e for e in entries if e.completed is False and e.index > last_notification and e.kind in _WAITS]
    waits = [_WAITS[e.kind].format(target=e.target, name=e.name) for e in open_commands]
    waits = [
        w if w != "a timer" else f"a timer ({e.summary.removeprefix('timer ')})"
        for w, e in zip(waits, open_commands, strict=True)
    ]
    if any(signal >= 17 for signal in invocation.waiting_signals) or any(
        isinstance(e.value, str) and e.value.startswith("sign_") for e in entries if e.kind == "SetState"
    ):
        waits.insert(0, "an awakeable")
    return " or ".join(dict.fromkeys(waits)) or None


def parse_journal(rows: list[dict[str, Any]]) -> list[JournalEntry]:
    """Turn ``sys_journal`` rows into entries, matching commands with their completions."""
    entries: list[JournalEntry] = []
    commands: dict[int, JournalEntry] = {}  # completion id -> the command that waits for it
    for row in rows:
        detail = _lite(row)
        full = json.loads(row["entry_json"]) if row.get("entry_json") else {}
        name = row.get("name") or None
        target = callee = wake_up = completes = None
        completed: bool | None = None
        waits_for: list[int] = []
        if "Command" in detail:
            (command, body), *_ = detail["Command"].items() if detail["Command"] else [("", {})]
            body = body or {}
            name = name or body.get("name") or body.get("key") or None
            if "invocation_target" in body:
                target = _target_text(body["invocation_target"])
                callee = body.get("invocation_id")
            if command == "Sleep" and "wake_up_time" in body:
                wake_up = millis_to_iso(body["wake_up_time"])
            if command == "OneWayCall" and body.get("invoke_time"):
                wake_up = millis_to_iso(body["invoke_time"])
            result_id = body.get("result_completion_id", body.get("completion_id"))
            waits_for = [int(result_id)] if result_id is not None else []
            completed = not waits_for
        else:
            completion = _lite(row).get("Notification", {}).get("id")
            found = completion.get("CompletionId") if isinstance(completion, dict) else None
            completion_id = int(found) if found is not None else -1
            waiting = commands.get(completion_id)
            if waiting is not None:
                completes = waiting.summary
                entries[entries.index(waiting)] = commands[completion_id] = replace(waiting, completed=True)
        entry = JournalEntry(
            index=int(row["index"]),
            entry_type=row["entry_type"],
            name=name,
            target=target,
            completed=completed,
            wake_up_at=wake_up,
            callee_id=callee,
            payload=_payload(full),
            completes=completes,
            raw=row,
        )
        commands.update(dict.fromkeys(waits_for, entry))
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class Timer:
    """A delayed invocation or a sleep, and when it fires (seconds since the epoch)."""

    kind: str  # "delayed call" or "sleep"
    target: str
    invocation_id: str
    fires_at: float | None
    set_by: str | None = None
    #: What a delayed call will be called with (None for sleeps and calls without an argument).
    argument: Any = None

    @property
    def call_text(self) -> str:
        """``CartObject/Mary/expireTicket("seat2B")``, or just the target."""
        return self.target if self.argument is None else f"{self.target}({json.dumps(self.argument)})"


def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch of Restate's ISO timestamps (``2026-01-01T10:00:00.123Z``)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def decode_value(value: str | None) -> Any:
    """A state value: JSON where it parses, the raw text otherwise."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class Submission:
    """The answer to sending an invocation: its id, and ``Accepted`` or ``PreviouslyAccepted``.

    ``PreviouslyAccepted`` means Restate already had this invocation (the same workflow id, or the
    same idempotency key) and answered with the one it has.
    """

    invocation_id: str
    status: str


@dataclass(frozen=True)
class Deployment:
    """A registered endpoint: the services it serves and how many unfinished invocations are pinned to it.

    Restate runs a new invocation on the newest deployment of its service and finishes every
    invocation on the deployment it started on, so an old deployment is ``draining`` until its
    last pinned invocation completes (then ``drained``: safe to remove).
    """

    id: str
    uri: str
    services: dict[str, int]  # service name -> revision
    pinned: int
    latest: bool

    @property
    def status(self) -> str:
        if self.latest:
            return "active"
        return "draining" if self.pinned else "drained"


def delayed_call_timers(scheduled: list[dict[str, Any]], inputs: dict[str, Any]) -> list[Timer]:
    """Timers for invocations sent with a delay (rows of ``sys_invocation_status``), with their inputs by id."""
    return [
        Timer(
            "delayed call",
            row["target"],
            row["id"],
            parse_time(row.get("scheduled_start_at")),
            row.get("invoked_by_target") or ("ingress" if row.get("invoked_by") == "ingress" else None),
            inputs[row["id"]],
        )
        for row in scheduled
    ]


def sleep_timers(sleeping: list[dict[str, Any]], journals: dict[str, list[JournalEntry]]) -> list[Timer]:
    """Timers for the ``ctx.sleep`` entries of sleeping invocations that have not fired yet."""
    return [
        Timer("sleep", row["target"], row["id"], parse_time(entry.wake_up_at), row["target"])
        for row in sleeping
        for entry in journals[row["id"]]
        if entry.kind == "Sleep" and not entry.completed
    ]


def parse_deployments(found: list[dict[str, Any]], pinned: dict[str, int]) -> list[Deployment]:
    """The admin API's deployments, newest first; `latest` marks the newest revision of any service."""
    newest: dict[str, tuple[int, str]] = {}
    for item in found:
        for service in item.get("services") or []:
            revision = int(service["revision"])
            if revision >= newest.get(service["name"], (-1, ""))[0]:
                newest[service["name"]] = (revision, item["id"])
    deployments = [
        Deployment(
            id=item["id"],
            uri=str(item.get("uri", "")),
            services={s["name"]: int(s["revision"]) for s in item.get("services") or []},
            pinned=pinned.get(item["id"], 0),
            latest=any(deployment_id == item["id"] for _revision, deployment_id in newest.values()),
        )
        for item in found
    ]
    return sorted(deployments, key=lambda d: max(d.services.values(), default=0), reverse=True)
