"""Behaviour checks for the exercises, run through the real Restate against the learner's code.

Each check sets up its own Virtual Object keys (nobody else uses them), drives the learner's
handlers over Restate's ingress, then looks at results, journals, K/V state and the tour's
stand-ins for the outside world (payment ledger, e-mail outbox). The first behaviour that is
off ends the check with what happened, and a hint that fits that failure. A handler that keeps
failing, its own or one it calls, ends the check at once; whatever the check started and left
unfinished is killed before it returns.
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import difflib
import functools
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit
from xml.etree import ElementTree

from tour.auxiliary import email_client, payment_client
from tourlab import PROJECT_ROOT, Invocation, InvocationError, JournalEntry, Lab, LabError, Stuck, poll
from tourlab._client import NO_ARG, AdminIngressClient
from tourlab._model import FAILING_STATUSES
from tourlab._runtimes import EmbeddedRestate
from tourlab.course.exercises import Exercise, find_exercise
from tourlab.course.workspace import relative_imports


class CheckFailedError(LabError):
    """A behaviour of the learner's code is not what the exercise asks for; `hint` fits this failure."""

    def __init__(self, problem: str, *, hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


# -- what a check shows ---------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&#|~])")


def markdown_text(text: str) -> str:
    """`text` as Markdown that shows exactly these characters (``<key>`` stays, ``_`` is no emphasis)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


@dataclass
class CheckResult:
    """The outcome of one check: what passed, the first thing that did not, a hint for it, what is live."""

    exercise: Exercise
    passed: list[str] = field(default_factory=list)
    problem: str | None = None
    hint: str | None = None
    #: Which code Restate serves after the check (set by ``Section.check``).
    serving: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def _help(self) -> tuple[str, str]:
        exercise_id = self.exercise.id
        return f'section.hint("{exercise_id}")', f'section.solution("{exercise_id}")'

    def _lines(self) -> list[str]:
        title = self.exercise.title
        head = f"PASSED  {title}" if self.ok else f"NOT YET  {title}"
        lines = [head, *(f"  [ok]   {claim}" for claim in self.passed)]
        if self.problem is not None:
            more, answer = self._help()
            lines.append(f"  [fail] {self.problem}")
            lines.append(f"Hint: {self.hint or self.exercise.hints[0]}")
            lines.append(f"More hints: {more}   The answer: {answer}")
        if self.serving:
            lines.append(self.serving)
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_markdown_(self) -> str:
        mark = "✔ **Passed**" if self.ok else "✘ **Not yet**"
        lines = [f"{mark}: {markdown_text(self.exercise.title)}", ""]
        lines += [f"- ✔ {markdown_text(claim)}" for claim in self.passed]
        if self.problem is not None:
            more, answer = self._help()
            lines.append(f"- ✘ {markdown_text(self.problem)}")
            lines += [
                "",
                f"**Hint:** {markdown_text(self.hint or self.exercise.hints[0])}",
                "",
                f"More hints: `{more}` · the answer: `{answer}`",
            ]
        if self.serving:
            lines += ["", markdown_text(self.serving)]
        return "\n".join(lines)


# -- hints for Python errors ----------------------------------------------------------------------

_NAME_ERROR = re.compile(r"NameError: name '(\w+)' is not defined")
_IMPORT_ERROR = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_NOT_CALLABLE = re.compile(r"TypeError: (?:'\w+' object is not callable|the first argument must be callable)")
_NONE_VALUE = re.compile(r"'NoneType' object|argument of type 'NoneType'")
_FILE = re.compile(r"(\w+\.py)")
#: Names the tour's code uses that no tour module imports.
_EXTRA_IMPORTS = {"timedelta": "from datetime import timedelta", "TerminalError": "from restate import TerminalError"}


@dataclass(frozen=True)
class _Origin:
    """Where a name of the tour's code comes from: the import that brings it, or the module defining it."""

    import_line: str
    module_file: str | None = None
    source: str | None = None


@functools.cache
def _tour_names() -> dict[str, _Origin]:
    """Every name the finished tour app (``tour/part4``) defines or imports, and where it comes from."""
    names = {name: _Origin(line) for name, line in _EXTRA_IMPORTS.items()}
    for path in sorted((PROJECT_ROOT / "tour" / "part4").glob("*.py")):
        text = path.read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    single = ast.ImportFrom(module=node.module, names=[alias], level=node.level)
                    line = relative_imports(ast.unparse(single), "tour.part4")
                    names.setdefault(alias.asname or alias.name, _Origin(line))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    names.setdefault(alias.asname or alias.name, _Origin(f"import {alias.name}"))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign):
                targets = node.targets if isinstance(node, ast.Assign) else [node]
                for target in targets:
                    name = target.id if isinstance(target, ast.Name) else getattr(target, "name", None)
                    if name:
                        line = text.splitlines()[node.lineno - 1].strip()
                        names[name] = _Origin(f"from .{path.stem} import {name}", path.name, line)
    return names


def _name_hint(name: str, failing_file: str | None) -> str:
    origin = _tour_names().get(name)
    if origin is None:
        close = difflib.get_close_matches(name, list(_tour_names()), n=1)
        guess = f" Did you mean {close[0]}?" if close else ""
        return f"Python does not know the name {name}: check its spelling.{guess}"
    if origin.module_file is not None and origin.module_file == failing_file:
        return (
            f"{name} belongs in {failing_file} itself, but your file does not define it. "
            f"The finished tour app has this line there: {origin.source}"
        )
    return f"{name} lives in another module, so your cell must import it first: {origin.import_line}"


def error_hint(error_text: str | None) -> str | None:
    """A hint for the Python error in `error_text` (a missing import, a typo...), or None if none fits."""
    text = error_text or ""
    files = _FILE.findall(text)
    if found := _NAME_ERROR.search(text):
        return _name_hint(found[1], files[-1] if files else None)
    if found := _IMPORT_ERROR.search(text):
        origin = _tour_names().get(found[1])
        where = f" It is imported like this: {origin.import_line}" if origin else ""
        return f"{found[2]} has no {found[1]}.{where}"
    if _NONE_VALUE.search(text):
        return (
            "ctx.get gives None for a state key that was never set (a new cart, an untouched seat): give it a "
            'default, e.g. await ctx.get("tickets", type_hint=list[str]) or [].'
        )
    if _NOT_CALLABLE.search(text):
        return (
            "ctx.run_typed got a value where it needs a function to call. It takes the function "
            'and its arguments separately: ctx.run_typed("email", email_client.notify_user_of_payment_success, '
            'RunOptions(type_hint=bool), order["user_id"]), not the result of calling it.'
        )
    return None


# -- driving the learner's handlers ---------------------------------------------------------------

_CALLS = ("Command: Call", "Command: OneWayCall")
_FAILING = FAILING_STATUSES
#: How long a check waits before asking Restate what blocks an invocation, and how often after that.
_DIAGNOSE_AFTER = 0.15
_DIAGNOSE_EVERY = 0.25


def _target(service: str, key: str | None, handler: str) -> str:
    return f"{service}/{handler}" if key is None else f"{service}/<key>/{handler}"


def key_of(target: str | None) -> str:
    """The Virtual Object key of ``Service/key/handler`` ('' for a service)."""
    parts = (target or "").split("/")
    return parts[1] if len(parts) == 3 else ""


@dataclass
class _Watch:
    """Where a waiting invocation stands: finished, or why it cannot finish."""

    seen: Invocation | None = None
    stuck: Stuck | None = None
    sleeping: str | None = None


class Probe:
    """Drives the learner's handlers through Restate, reads back what happened, cleans up after itself."""

    def __init__(self, lab: Lab, *, timeout: float = 8.0) -> None:
        self.lab = lab
        self.timeout = timeout
        self.run = uuid.uuid4().hex[:8]
        self.passed: list[str] = []
        self.last_id: str | None = None
        #: Invocations this check started over the ingress.
        self.sent: list[str] = []
        self._labels: dict[str, str] = {}

    # -- keys and wording --------------------------------------------------------------------

    def key(self, name: str) -> str:
        """A Virtual Object key that only this check run uses; messages call it by `name`."""
        key = f"check-{name}-{self.run}"
        self._labels[key] = name
        return key

    def named(self, value: Any) -> str:
        """`value` for a message, with this check's keys written as their short names."""
        if isinstance(value, list | tuple):
            return "[" + ", ".join(self.named(v) for v in value) + "]"
        if isinstance(value, str) and value in self._labels:
            return self._labels[value]
        text = repr(value)
        for key, label in self._labels.items():
            text = text.replace(repr(key), label).replace(key, label)
        return text

    def ok(self, claim: str) -> None:
        self.passed.append(claim)

    @staticmethod
    def fail(problem: str, hint: str | None = None) -> NoReturn:
        raise CheckFailedError(problem, hint=hint)

    # -- setting up state ----------------------------------------------------------------------

    def seed(self, objects: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Give fresh Virtual Object keys their K/V state through Restate's admin API (like `restate kv edit`)."""
        for (service, key), values in objects.items():
            self.lab.set_state(service, key, values)
        polled = poll(
            lambda: self.lab.states(list(objects)),
            lambda seen: all(seen.get(obj, {}) == values for obj, values in objects.items()),
            timeout=5.0,
            interval=0.01,
        )
        if not polled.ok:
            raise LabError("The state the check set up did not show up in Restate within 5 s.")

    # -- invoking ------------------------------------------------------------------------------

    def invoke(self, service: str, key: str | None, handler: str, arg: Any = NO_ARG) -> Any:
        """Run a handler to completion and return its result; a failing handler fails the check at once."""
        target = _target(service, key, handler)
        inv_id = self.lab.send(service, key, handler, arg)
        self.sent.append(inv_id)
        self.last_id = inv_id
        self.wait_finished(inv_id, target)
        try:
            return self.lab.output(inv_id)
        except InvocationError as failed:
            self.fail(f"{target} ended with an error: {failed}", error_hint(str(failed)))

    def wait_finished(self, inv_id: str, what: str) -> None:
        """Wait until an invocation completed; fail as soon as it, or what it waits for, keeps failing."""
        began = time.monotonic()
        next_look = {"at": began + _DIAGNOSE_AFTER}

        def look() -> _Watch:
            watch = _Watch(self.lab.invocation(inv_id))
            status = watch.seen.status if watch.seen else None
            now = time.monotonic()
            if status in _FAILING or (status not in (None, "completed") and now >= next_look["at"]):
                next_look["at"] = now + _DIAGNOSE_EVERY
                watch.stuck = self.lab.why_stuck(inv_id)
                if watch.stuck is None and status in ("running", "suspended"):
                    watch.sleeping = self._sleeping(inv_id)
            return watch

        def settled(watch: _Watch) -> bool:
            completed = watch.seen is not None and watch.seen.status == "completed"
            return completed or watch.stuck is not None or watch.sleeping is not None

        polled = poll(look, settled, timeout=self.timeout, interval=0.02)
        watch = polled.value
        if watch.stuck is not None:
            self._fail_stuck(what, watch.stuck)
        if watch.sleeping is not None:
            self.fail(
                f"{what} is sleeping ({watch.sleeping}), so it cannot finish while the check waits; "
                "the check stopped it.",
                "Nothing in this exercise needs ctx.sleep: a delayed message (send_delay=...) does the waiting "
                "without blocking the object.",
            )
        if not polled.ok:
            status = watch.seen.status if watch.seen else "unknown"
            self.fail(
                f"{what} did not finish within {self.timeout:g} s (it was {status!r}); the check stopped it.",
                "Look at lab.logs() and section.invocations(): something waits for a reply that never comes.",
            )

    def _sleeping(self, inv_id: str) -> str | None:
        for entry in self.lab.journal(inv_id):
            if entry.entry_type == "Command: Sleep" and not entry.completed:
                return f"ctx.sleep until {entry.wake_up_at}" if entry.wake_up_at else "ctx.sleep"
        return None

    def _fail_stuck(self, what: str, stuck: Stuck) -> NoReturn:
        culprit = stuck.culprit
        failure = culprit.failure or "no error text"
        shown = _shown(culprit.target)
        if stuck.relation == "deadlock":
            self.fail(
                f"{what} can never finish: it calls a handler of its own object and waits for it, while it "
                "holds that object's key itself (a deadlock). The check stopped it.",
                "A handler of a Virtual Object must not wait for another exclusive handler of the same key: "
                "send it a message (ctx.object_send) instead.",
            )
        if stuck.relation == "itself":
            problem = f"{what} fails instead of finishing: {failure}."
        elif stuck.relation == "calls":
            problem = f"{what} cannot finish: it waits for {shown}, which keeps failing: {failure}."
        else:
            problem = f"{what} cannot start: {shown} holds its key and keeps failing: {failure}."
        problem += " The check stopped it (details: lab.logs())."
        hint = error_hint(failure)
        if hint is None and stuck.relation != "itself":
            hint = (
                f"The error is in {shown}, not in the handler this exercise is about: fix that handler and check again."
            )
        self.fail(problem, hint)

    def wait_all(self, ids: list[str], what: str) -> None:
        """Wait until invocations this check caused (e.g. messages a handler sent) have completed."""
        if not ids:
            return
        quoted = ", ".join(f"'{i}'" for i in ids)

        def look() -> list[dict[str, Any]]:
            return self.lab.query(f"SELECT id, target, status FROM sys_invocation WHERE id IN ({quoted})")

        def settled(rows: list[dict[str, Any]]) -> bool:
            done = [r for r in rows if r["status"] == "completed"]
            return len(done) == len(ids) or any(r["status"] in _FAILING for r in rows)

        polled = poll(look, settled, timeout=self.timeout, interval=0.02)
        for row in polled.value:
            if row["status"] in _FAILING:
                failing = self.lab.invocation(row["id"])
                failure = failing.failure if failing else "no error text"
                self.fail(
                    f"{what}: {_shown(row['target'])} keeps failing: {failure}. "
                    "The check stopped it (details: lab.logs()).",
                    error_hint(failure)
                    or f"The error is in {_shown(row['target'])}: fix that handler and check again.",
                )
        if not polled.ok:
            self.fail(f"{what}: they did not finish within {self.timeout:g} s; the check stopped them.")

    # -- reading back ----------------------------------------------------------------------------

    def journal(self, inv_id: str | None = None) -> list[JournalEntry]:
        return self.lab.journal(inv_id or self.last_id)

    def state(self, service: str, key: str) -> dict[str, Any]:
        return self.lab.state(service, key)

    def output(self, call: JournalEntry) -> Any:
        """The result of the invocation that a call in a journal started."""
        if call.callee_id is None:
            return None
        what = _shown(call.target or "?/?")
        self.wait_finished(call.callee_id, what)
        try:
            return self.lab.output(call.callee_id)
        except InvocationError as failed:
            self.fail(f"{what} ended with an error: {failed}", error_hint(str(failed)))

    # -- cleaning up -----------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Kill what this check started and left unfinished (its keys and calls are its own)."""
        sent = ", ".join(f"'{i}'" for i in self.sent) or "''"
        with contextlib.suppress(LabError):
            rows = self.lab.query(
                "SELECT id FROM sys_invocation WHERE status != 'completed' AND "
                f"(target LIKE '%-{self.run}/%' OR id IN ({sent}) OR invoked_by_id IN ({sent}))"
            )
            for row in rows:
                with contextlib.suppress(LabError):
                    self.lab.kill(row["id"])


def _split(target: str) -> tuple[str, str | None, str]:
    parts = target.split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else (parts[0], None, parts[-1])


def _shown(target: str) -> str:
    """A target for a message: ``TicketObject/<key>/markAsSold`` (the check's keys mean nothing to the learner)."""
    return _target(*_split(target))


def messages(entries: list[JournalEntry], service: str, handler: str) -> list[JournalEntry]:
    """The calls and one-way messages in a journal that go to `handler` of `service`."""
    return [
        e
        for e in entries
        if e.entry_type in _CALLS and e.target and _split(e.target)[0] == service and _split(e.target)[2] == handler
    ]


def _run_steps(entries: list[JournalEntry]) -> list[JournalEntry]:
    return [e for e in entries if e.entry_type == "Command: Run"]


@contextlib.contextmanager
def declined_payments() -> Iterator[None]:
    """Make the tour's payment provider decline every payment while a check runs."""
    payment_client.decline_payments(True)
    try:
        yield
    finally:
        payment_client.decline_payments(False)


def _mails(user: str) -> list[str]:
    return [subject for who, subject in list(email_client.outbox) if who == user]


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


# -- the checks -----------------------------------------------------------------------------------


def check_checkout_calls_handle(p: Probe) -> None:
    """CartObject/checkout hands an order to CheckoutService/handle (section 01).

    Checked: checkout makes exactly one request-response call (not a one-way message) to
    CheckoutService/handle and waits for its answer; the order it sends has user_id = the
    cart's key and tickets = ["seat2B"] (hard-coded for now, as the exercise says); checkout
    returns what handle answered. A failing handle ends the check at once, naming it.
    """
    cart = p.key("cart")
    result = p.invoke("CartObject", cart, "checkout")
    calls = messages(p.journal(), "CheckoutService", "handle")
    if not calls:
        p.fail("CartObject/checkout does not call CheckoutService/handle: its journal has no call entry.")
    if all(c.entry_type == "Command: OneWayCall" for c in calls):
        p.fail(
            "checkout sends CheckoutService/handle a one-way message, so it never learns whether the payment worked.",
            "A one-way message (ctx.service_send) gets no answer. Use a request-response call: "
            "return await ctx.service_call(handle, arg=order).",
        )
    if len(calls) > 1:
        p.fail(
            f"checkout calls CheckoutService/handle {len(calls)} times; one checkout is one order, so one call.",
            "Call handle once, keep its answer in a variable if you need it twice.",
        )
    call = calls[0]
    p.ok("checkout calls CheckoutService/handle with a request-response call")
    order = call.value
    if not isinstance(order, dict) or set(order) != {"user_id", "tickets"}:
        p.fail(
            f"checkout sent handle {p.named(order)} as the order; an Order is a dict with the keys "
            "'user_id' and 'tickets'.",
            'Build the order as {"user_id": ctx.key(), "tickets": ["seat2B"]} and pass it as arg=order.',
        )
    if order["user_id"] != cart:
        p.fail(
            f"The order's user_id is {order['user_id']!r}, but the cart that checked out has the key {cart!r}: "
            "the user is the cart's key.",
            "Inside a Virtual Object handler ctx.key() is the key it runs for: use it as the user_id.",
        )
    if order["tickets"] != ["seat2B"]:
        p.fail(
            f"The order's tickets are {p.named(order['tickets'])}; for now the exercise asks for the "
            "hard-coded list ['seat2B'] (the cart learns to remember its tickets in section 04).",
            'Use "tickets": ["seat2B"] in the order.',
        )
    p.ok("the order holds the cart's key as user_id and the tickets ['seat2B']")
    if not call.completed:
        p.fail(
            "checkout does not wait for the answer of CheckoutService/handle (the call's result never "
            "reached its journal).",
            "ctx.service_call(...) gives you something to await: return await ctx.service_call(handle, arg=order).",
        )
    answer = p.output(call)
    if result != answer:
        p.fail(
            f"checkout returned {result!r}, but handle answered {answer!r}; checkout should return that answer.",
            "return await ctx.service_call(handle, arg=order) gives back exactly what handle answered.",
        )
    p.ok("checkout waits for handle and returns its answer")


def check_expire_ticket(p: Probe) -> None:
    """CartObject/expireTicket releases a ticket only while it is still in the cart (section 04).

    Checked, on a cart holding seat-a, seat-b and seat-c: expiring seat-b takes exactly seat-b out of
    the cart's "tickets" (seat-a and seat-c stay) and sends TicketObject/unreserve once, for seat-b
    only; expiring a seat that is not in the cart changes nothing and releases nothing; expiring
    on a cart that has no state yet works and releases nothing.
    """
    cart = p.key("cart")
    seats = [p.key("seat-a"), p.key("seat-b"), p.key("seat-c")]
    seat_b = seats[1]
    others = [seats[0], seats[2]]
    p.seed({("CartObject", cart): {"tickets": seats}})
    p.invoke("CartObject", cart, "expireTicket", seat_b)
    left = p.state("CartObject", cart).get("tickets")
    if isinstance(left, list) and seat_b in left:
        p.fail(
            "After expireTicket the ticket is still in the cart: take it out of the list and store "
            "the list again with ctx.set.",
            _state_hint(p.journal(), "tickets"),
        )
    if not left:
        p.fail(
            f"expireTicket({p.named(seat_b)}) on a cart holding {p.named(seats)} emptied the whole cart; "
            f"{p.named(others)} were not expired and must stay.",
            "Remove just this one ticket from the list (tickets.remove(ticket_id)) and store the rest "
            'with ctx.set("tickets", tickets).',
        )
    if not isinstance(left, list) or sorted(left) != sorted(others):
        p.fail(
            f"expireTicket({p.named(seat_b)}) on a cart holding {p.named(seats)} left {p.named(left)} in "
            f"'tickets'; expected {p.named(others)}.",
            'Store the same list you read, minus this ticket: ctx.set("tickets", tickets).',
        )
    p.ok("expireTicket takes exactly that ticket out of the cart; the others stay")
    released = messages(p.journal(), "TicketObject", "unreserve")
    keys = [key_of(m.target) for m in released]
    if not released:
        p.fail(
            "expireTicket took the ticket out of the cart but never sent TicketObject/unreserve for it, "
            "so the seat stays reserved for nobody.",
            "After removing it: ctx.object_send(unreserve, key=ticket_id, arg=None).",
        )
    if any(k != seat_b for k in keys):
        wrong = sorted({k for k in keys if k != seat_b})
        p.fail(
            f"expireTicket({p.named(seat_b)}) also sent unreserve to {p.named(wrong)}, which are still in the cart.",
            "Send unreserve with key=ticket_id, the one ticket that expired.",
        )
    if len(keys) > 1:
        p.fail(f"expireTicket sent TicketObject/unreserve {len(keys)} times for one ticket; once is enough.")
    p.ok("expireTicket sends TicketObject/unreserve once, for that ticket only")

    stranger = p.key("seat-d")
    p.invoke("CartObject", cart, "expireTicket", stranger)
    if messages(p.journal(), "TicketObject", "unreserve"):
        p.fail(
            f"expireTicket({p.named(stranger)}) released a seat that is not in the cart: it may be sold "
            "or reserved by someone else by now.",
            "Only send unreserve inside if ticket_id in tickets: ...",
        )
    after = p.state("CartObject", cart).get("tickets")
    if not isinstance(after, list) or sorted(after) != sorted(others):
        p.fail(
            f"expireTicket({p.named(stranger)}), a seat that is not in the cart, changed 'tickets' from "
            f"{p.named(others)} to {p.named(after)}.",
            "When the ticket is not in the cart, leave the state alone.",
        )
    p.ok("expireTicket of a seat that is not in the cart changes nothing and releases nothing")

    empty = p.key("empty-cart")
    p.invoke("CartObject", empty, "expireTicket", p.key("seat-e"))
    if messages(p.journal(), "TicketObject", "unreserve"):
        p.fail(
            "expireTicket on a cart that holds no tickets still released the seat.",
            "Only send unreserve inside if ticket_id in tickets: ...",
        )
    if p.state("CartObject", empty).get("tickets"):
        p.fail("expireTicket on an empty cart put tickets into it.")
    p.ok("expireTicket on a cart without tickets does nothing")


def _state_hint(entries: list[JournalEntry], name: str) -> str | None:
    """A hint for a handler that should have changed the state `name`: None if it never read it."""
    if not any(e.entry_type.startswith("Command: Get") and e.name == name for e in entries):
        return None
    if not any(e.entry_type == "Command: SetState" and e.name == name for e in entries):
        return (
            f"Changing the Python list changes nothing in Restate: store it again with ctx.set({name!r}, ...) "
            "after removing the ticket."
        )
    return "The list you store must no longer hold the ticket: remove it before ctx.set."


_SPELLING = (
    'The three statuses are spelled exactly "AVAILABLE", "RESERVED" and "SOLD" (reserve and unreserve compare them).'
)


def _spelling_hint(status: Any) -> str | None:
    return _SPELLING if isinstance(status, str) and status not in ("AVAILABLE", "RESERVED", "SOLD") else None


def _status(p: Probe, seat: str) -> Any:
    return p.state("TicketObject", seat).get("status")


def _seats(p: Probe, **statuses: str | None) -> dict[str, str]:
    """Fresh seats named after the keywords, with the given "status" (None: never touched)."""
    seats = {name: p.key(name) for name in statuses}
    p.seed({("TicketObject", seats[n]): {"status": s} for n, s in statuses.items() if s is not None})
    return seats


_AVAILABLE = (None, "AVAILABLE")


def check_reserve(p: Probe) -> None:
    """TicketObject/reserve: AVAILABLE -> RESERVED (section 04).

    Checked: a seat with no status, or the status "AVAILABLE", gives True and becomes
    "RESERVED"; reserving it again gives False and it stays "RESERVED"; a "SOLD" seat gives
    False and stays "SOLD".
    """
    seats = _seats(p, fresh=None, available="AVAILABLE", sold="SOLD")
    first = p.invoke("TicketObject", seats["fresh"], "reserve")
    if first is not True:
        p.fail(
            f"reserve on a seat nobody touched returned {first!r}; such a seat is AVAILABLE, so: True.",
            'A seat without a "status" is available: status = await ctx.get("status", type_hint=str) or "AVAILABLE".',
        )
    status = _status(p, seats["fresh"])
    if status != "RESERVED":
        p.fail(
            f"reserve returned True but left the 'status' state at {status!r}; store 'RESERVED' "
            "so the next reservation of this seat can see it is taken.",
            _spelling_hint(status),
        )
    p.ok("reserve on an untouched seat returns True and stores 'RESERVED'")
    second = p.invoke("TicketObject", seats["fresh"], "reserve")
    status = _status(p, seats["fresh"])
    if second is not False or status != "RESERVED":
        p.fail(
            f"Reserving a RESERVED seat again returned {second!r} and left the status {status!r}; "
            "a seat that is taken gives False and stays RESERVED.",
            'Change the status and return True only when it is "AVAILABLE"; otherwise return False.',
        )
    p.ok("reserve on a reserved seat returns False")
    sold = p.invoke("TicketObject", seats["sold"], "reserve")
    status = _status(p, seats["sold"])
    if sold is not False or status != "SOLD":
        p.fail(
            f"reserve on a SOLD seat returned {sold!r} and left the status {status!r}: a sold seat can never "
            "be reserved again.",
            'Check for "AVAILABLE" itself, not just for "RESERVED": a "SOLD" seat must give False.',
        )
    p.ok("reserve on a SOLD seat returns False and it stays SOLD")
    again = p.invoke("TicketObject", seats["available"], "reserve")
    status = _status(p, seats["available"])
    if again is not True or status != "RESERVED":
        p.fail(
            f"reserve on a seat whose status is 'AVAILABLE' returned {again!r} and left the status {status!r}; "
            "'AVAILABLE' means free, just like no status at all.",
            'Treat a missing status and "AVAILABLE" alike: ... or "AVAILABLE", then compare with "AVAILABLE".',
        )
    p.ok("reserve treats the status 'AVAILABLE' like an untouched seat")


def check_unreserve(p: Probe) -> None:
    """TicketObject/unreserve: back to AVAILABLE unless SOLD (section 04).

    Checked: a "RESERVED" seat ends with no status (or "AVAILABLE"); a "SOLD" seat stays
    "SOLD"; a seat nobody touched stays available and unreserve does not fail on it.
    """
    seats = _seats(p, reserved="RESERVED", sold="SOLD", fresh=None)
    p.invoke("TicketObject", seats["reserved"], "unreserve")
    status = _status(p, seats["reserved"])
    if status not in _AVAILABLE:
        p.fail(f"After unreserve the status is still {status!r}; clear it so the seat is available again.")
    p.ok("unreserve makes a RESERVED seat available")
    p.invoke("TicketObject", seats["sold"], "unreserve")
    status = _status(p, seats["sold"])
    if status != "SOLD":
        p.fail(
            f"unreserve turned a SOLD ticket into {status!r}: an expiring reservation must never undo a sale.",
            'Read the status first and clear it only if it is not "SOLD".',
        )
    p.ok("unreserve leaves a SOLD seat sold")
    p.invoke("TicketObject", seats["fresh"], "unreserve")
    status = _status(p, seats["fresh"])
    if status not in _AVAILABLE:
        p.fail(
            f"unreserve on a seat nobody touched set its status to {status!r}; it should stay available.",
            'unreserve only ever clears the status (or sets "AVAILABLE"); it never reserves or sells.',
        )
    p.ok("unreserve on an untouched seat leaves it available")


def check_mark_as_sold(p: Probe) -> None:
    """TicketObject/markAsSold: RESERVED -> SOLD (section 04).

    Checked: a "RESERVED" seat becomes "SOLD"; a seat nobody touched, and one whose status is
    "AVAILABLE", keep their status (only a reserved seat can be sold); a "SOLD" seat stays "SOLD".
    """
    seats = _seats(p, reserved="RESERVED", fresh=None, available="AVAILABLE", sold="SOLD")
    p.invoke("TicketObject", seats["reserved"], "markAsSold")
    status = _status(p, seats["reserved"])
    if status != "SOLD":
        p.fail(
            f"markAsSold on a reserved seat left the status at {status!r}; it should be 'SOLD'.",
            _spelling_hint(status),
        )
    p.ok("markAsSold turns RESERVED into SOLD")
    for name, before in (("fresh", None), ("available", "AVAILABLE")):
        p.invoke("TicketObject", seats[name], "markAsSold")
        status = _status(p, seats[name])
        if status != before:
            what = "nobody touched" if before is None else "whose status is 'AVAILABLE'"
            p.fail(
                f"markAsSold on a seat {what} changed its status to {status!r}; only a RESERVED seat can be sold "
                "(it went through a cart and a payment).",
                'Change the status only if it is "RESERVED": if status == "RESERVED": ctx.set("status", "SOLD").',
            )
    p.ok("markAsSold leaves seats that are not reserved as they are")
    p.invoke("TicketObject", seats["sold"], "markAsSold")
    status = _status(p, seats["sold"])
    if status != "SOLD":
        p.fail(f"markAsSold on a SOLD seat changed its status to {status!r}; it should stay 'SOLD'.")
    p.ok("markAsSold leaves a SOLD seat sold")


def check_email_notifications(p: Probe) -> None:
    """CheckoutService/handle e-mails the outcome of the payment (section 05).

    Checked, for an order of two tickets: when the payment goes through, handle returns True,
    charges once (2 x 40) and sends order["user_id"] exactly one "payment succeeded" e-mail;
    when the provider declines (payment_client.call returns False), handle returns False and
    sends exactly one "payment failed" e-mail. In both cases the e-mail is a journaled ctx.run
    step of its own, after the payment step, so a retry never sends it again.
    """
    for declined in (False, True):
        user = p.key("declined-user" if declined else "user")
        order = {"user_id": user, "tickets": [p.key("seat-a"), p.key("seat-b")]}
        charges_before, outbox_before = len(payment_client.charges()), len(email_client.outbox)
        with declined_payments() if declined else contextlib.nullcontext():
            result = p.invoke("CheckoutService", None, "handle", order)
        _check_mails(p, user, declined, email_client.outbox[outbox_before:])
        outcome = "a declined payment" if declined else "a successful payment"
        subject = "payment failed" if declined else "payment succeeded"
        p.ok(f"{outcome}: one '{subject}' e-mail to order['user_id']")
        paid = not declined
        if result is not paid:
            p.fail(
                f"After {outcome} handle returned {result!r}; it should return the payment's result ({paid}).",
                "Keep return paid at the end of handle.",
            )
        charges = payment_client.charges()[charges_before:]
        if [c.amount for c in charges] != [80]:
            p.fail(
                f"For an order of 2 tickets handle charged {[c.amount for c in charges]}; expected one charge "
                "of 80 (2 x 40).",
                "The payment step from the starting code stays as it is: one ctx.run_typed around payment_client.call.",
            )
        p.ok(f"{outcome}: handle charges once (2 x 40) and returns {paid}")
        runs = _run_steps(p.journal())
        if len(runs) < 2:
            p.fail(
                f"The e-mail went out, but not as a journaled step: the journal of handle has "
                f"{_count(len(runs), 'run step')}, the payment's only. A retry would send the e-mail again.",
                'Wrap the e-mail in a step of its own: await ctx.run_typed("email", '
                'email_client.notify_user_of_payment_success, RunOptions(type_hint=bool), order["user_id"]).',
            )
        p.ok(f"{outcome}: the e-mail is a journaled ctx.run step of its own")


def _check_mails(p: Probe, user: str, declined: bool, new_mails: list[tuple[str, str]]) -> None:
    mails = _mails(user)
    expected = "payment failed" if declined else "payment succeeded"
    function = "notify_user_of_payment_failure" if declined else "notify_user_of_payment_success"
    outcome = (
        "When the payment provider declines (payment_client.call returns False)"
        if declined
        else ("After a successful payment")
    )
    if mails == [expected]:
        return
    elsewhere = [who for who, _subject in new_mails if who != user]
    if not mails and elsewhere:
        p.fail(
            f"{outcome} the e-mail went to {elsewhere[0]!r} instead of order['user_id'] ({user!r}).",
            "The user is in the order: email_client." + function + '(order["user_id"]).',
        )
    if not mails:
        p.fail(
            f"{outcome} the user received no e-mail; expected one {expected!r} e-mail (email_client.{function}).",
        )
    if expected not in mails:
        p.fail(
            f"{outcome} the user received {mails}; expected one {expected!r} e-mail (email_client.{function}).",
            "Pick the e-mail with if paid: ... else: ...; the success e-mail only when paid is True.",
        )
    p.fail(
        f"{outcome} the user received {_count(len(mails), 'e-mail')}: {mails}; expected exactly one {expected!r}.",
        "Send exactly one e-mail per payment: one in the if paid: branch, the other in the else: branch.",
    )


def _cart_with_reserved_seats(p: Probe, cart_name: str, seat_names: list[str]) -> tuple[str, list[str]]:
    cart = p.key(cart_name)
    seats = [p.key(n) for n in seat_names]
    objects: dict[tuple[str, str], dict[str, Any]] = {("CartObject", cart): {"tickets": seats}}
    objects.update({("TicketObject", s): {"status": "RESERVED"} for s in seats})
    p.seed(objects)
    return cart, seats


def _handle_call(p: Probe, cart: str, seats: list[str]) -> tuple[JournalEntry, list[JournalEntry]]:
    """checkout's one call to CheckoutService/handle (checked to carry this cart's order) and its journal."""
    entries = p.journal()
    calls = [c for c in messages(entries, "CheckoutService", "handle") if c.entry_type == "Command: Call"]
    if len(calls) != 1:
        p.fail(
            f"CartObject/checkout should call CheckoutService/handle once and wait for the answer; its journal "
            f"has {_count(len(calls), 'such call')}.",
            "Keep the starting code's paid = await ctx.service_call(handle, arg=order).",
        )
    order = calls[0].value
    if (
        not isinstance(order, dict)
        or order.get("user_id") != cart
        or sorted(order.get("tickets") or []) != sorted(seats)
    ):
        p.fail(
            f"checkout of a cart holding {p.named(seats)} sent handle the order {p.named(order)}; expected "
            f"user_id = the cart's key and tickets = {p.named(seats)}.",
            'The order is {"user_id": ctx.key(), "tickets": tickets}, with the tickets read from the state.',
        )
    return calls[0], entries


def check_checkout_marks_sold(p: Probe) -> None:
    """CartObject/checkout marks every paid ticket as sold (section 05).

    Checked, on a cart holding three RESERVED seats: checkout sends handle the order (user_id =
    the cart's key, tickets = the cart's tickets) and, when handle answers True, returns True,
    sends TicketObject/markAsSold exactly once to every ticket and only after the payment's
    answer, every ticket ends "SOLD" and the cart is emptied. When the payment is declined,
    checkout returns False, sends no markAsSold, the seats stay RESERVED and the cart keeps them.
    """
    _paid_checkout(p)
    _declined_checkout(p)


def _paid_checkout(p: Probe) -> None:
    cart, seats = _cart_with_reserved_seats(p, "cart", ["seat-a", "seat-b", "seat-c"])
    paid = p.invoke("CartObject", cart, "checkout")
    call, entries = _handle_call(p, cart, seats)
    answer = p.output(call)
    if answer is not True:
        p.fail(
            f"CheckoutService/handle answered {answer!r} for a payment that goes through, so the check cannot "
            "see what checkout does after a payment.",
            'Finish section.check("email_notifications") first: handle returns the payment result.',
        )
    if paid is not True:
        p.fail(f"checkout of a cart with 3 tickets returned {paid!r}, but handle answered True; return that.")
    p.ok("checkout sends handle the cart's order and returns True when it is paid")
    sold = messages(entries, "TicketObject", "markAsSold")
    if not sold:
        p.fail("checkout was paid but never told the ticket's TicketObject (markAsSold) that it is sold.")
    early = [m for m in sold if m.index < call.index]
    if early:
        p.fail(
            "checkout sends TicketObject/markAsSold before CheckoutService/handle has answered, so tickets "
            "get sold whether or not the payment goes through.",
            "Send the markAsSold messages inside if paid:, after paid = await ctx.service_call(handle, ...).",
        )
    counts = Counter(key_of(m.target) for m in sold)
    missing = [s for s in seats if counts[s] == 0]
    if missing:
        p.fail(
            f"checkout of a cart holding {p.named(seats)} sent markAsSold only to "
            f"{p.named(sorted(counts))}; {p.named(missing)} were paid for but not marked as sold.",
            "One message per ticket: for ticket_id in tickets: ctx.object_send(mark_as_sold, key=ticket_id, arg=None).",
        )
    strangers = sorted(k for k in counts if k not in seats)
    if strangers:
        p.fail(f"checkout sent markAsSold to {p.named(strangers)}, which are not in the cart.")
    twice = sorted(k for k, n in counts.items() if n > 1)
    if twice:
        p.fail(
            f"checkout sent markAsSold more than once to {p.named(twice)}.",
            "Send one markAsSold per ticket: a single for loop over the cart's tickets.",
        )
    p.ok("after the payment checkout sends TicketObject/markAsSold once to every ticket")
    p.wait_all([m.callee_id for m in sold if m.callee_id], "checkout sent markAsSold")
    statuses = {s: _status(p, s) for s in seats}
    unsold = [s for s, status in statuses.items() if status != "SOLD"]
    if unsold:
        p.fail(
            f"markAsSold ran, but the status of {p.named(unsold)} is {statuses[unsold[0]]!r} instead of 'SOLD'.",
            "markAsSold is the TicketObject's handler (section 04): a RESERVED seat becomes SOLD.",
        )
    p.ok("every ticket ends up SOLD")
    if p.state("CartObject", cart).get("tickets"):
        p.fail(
            "After a paid checkout the cart still holds its tickets; clear 'tickets'.",
            'Keep ctx.clear("tickets") in the if paid: branch.',
        )
    p.ok("the cart is empty after a paid checkout")


def _declined_checkout(p: Probe) -> None:
    cart, seats = _cart_with_reserved_seats(p, "declined-cart", ["seat-d", "seat-e"])
    with declined_payments():
        paid = p.invoke("CartObject", cart, "checkout")
    call, entries = _handle_call(p, cart, seats)
    answer = p.output(call)
    if answer is not False:
        p.fail(
            "To try a declined payment the check made payment_client.call decline, but CheckoutService/handle "
            f"still answered {answer!r}.",
            'handle must return the payment result: finish section.check("email_notifications") first.',
        )
    if paid is not False:
        p.fail(f"checkout returned {paid!r} although the payment was declined (handle answered False).")
    if messages(entries, "TicketObject", "markAsSold"):
        p.fail(
            "The payment was declined, yet checkout sent TicketObject/markAsSold: those tickets were never paid for.",
            "Send markAsSold only inside if paid:.",
        )
    statuses = {s: _status(p, s) for s in seats}
    if any(status != "RESERVED" for status in statuses.values()):
        p.fail(
            f"After a declined payment the tickets' statuses are {p.named(list(statuses.values()))}; "
            "they should stay 'RESERVED'."
        )
    left = p.state("CartObject", cart).get("tickets")
    if not isinstance(left, list) or sorted(left) != sorted(seats):
        p.fail(
            f"After a declined payment the cart holds {p.named(left)} instead of {p.named(seats)}: "
            "the user may want to pay again.",
            'Clear the cart only when the payment went through: ctx.clear("tickets") inside if paid:.',
        )
    p.ok("a declined checkout returns False, sells nothing and keeps the cart")


# -- beyond the tour: determinism and replay (section 11) -------------------------------------------

#: How many orders the replay check places, from these users in turn.
REPLAY_ORDERS = 20
_REPLAY_USERS = ("Mary", "John", "Ann")
_TICKET_PRICE = 40


@contextlib.contextmanager
def replaying_restate(lab: Lab) -> Iterator[AdminIngressClient]:
    """A second, throwaway Restate serving the lab's endpoint, which replays the handler at every step.

    It suspends every invocation at each suspension point (``ctx.run``, a call, a sleep), so the
    handler runs again from the top after every step, and it ends an invocation at its first
    failure (no retries), so the caller gets Restate's error at once. The lab's own Restate is
    not touched: the check gives the same verdict in a normal lab and in an always-replay one.
    """
    from tour.replay.settings import ALWAYS_REPLAY_ENV, FAIL_FAST_ENV

    server = EmbeddedRestate(extra_env={**ALWAYS_REPLAY_ENV, **FAIL_FAST_ENV})
    server.start()
    client = AdminIngressClient(server.admin_url, server.ingress_url, timeout=20)
    try:
        # Reach the endpoint where it listens (loopback, a Docker bridge, or every interface).
        host = lab.runtime.bind_host if lab.runtime.bind_host not in ("0.0.0.0", "::") else "127.0.0.1"
        client.register(f"http://{host}:{urlsplit(lab.endpoint_url).port}", force=False)
        yield client
    finally:
        client.close()
        server.stop()


@dataclass
class _Orders:
    """What the replay check's orders came back with."""

    receipts: list[tuple[int, dict[str, Any], Any]] = field(default_factory=list)
    mismatches: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def _place_orders(client: AdminIngressClient) -> _Orders:
    placed = _Orders()
    for number in range(REPLAY_ORDERS):
        order = {
            "user_id": _REPLAY_USERS[number % len(_REPLAY_USERS)],
            "tickets": [f"seat-{number}-{n}" for n in range(1 + number % 3)],
        }
        try:
            placed.receipts.append((number, order, client.call("DiscountCheckout", None, "handle", order)))
        except InvocationError as failed:
            if failed.status_code == 570 or "Found a mismatch" in str(failed):
                placed.mismatches.append(number)
            else:
                placed.errors.append((number, str(failed)))
    return placed


def check_deterministic_checkout(p: Probe) -> None:
    """DiscountCheckout/handle takes the same path on every attempt (section 11).

    Checked against a second Restate that replays the handler after every step and fails fast
    (``replaying_restate``), with 20 orders from three users: every order completes (no journal
    mismatch, no error); every receipt has its own payment key; the provider charged exactly that
    key with exactly the receipt's amount; every amount is the full price (40 a ticket) or 20 % off;
    both outcomes of the discount draw occur.
    """
    payments = importlib.import_module("tour.replay.payments")
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(replaying_restate(p.lab))
        except (LabError, OSError) as unavailable:
            p.fail(
                f"The check needs a second Restate, one that replays at every step, and could not start it: "
                f"{unavailable}",
                "Install the pinned restate-server (./course does) and check again.",
            )
        payments.reset()
        placed = _place_orders(client)
    _judge_orders(p, placed, dict(payments.ledger))


def _judge_orders(p: Probe, placed: _Orders, charged: dict[str, int]) -> None:
    if placed.errors:
        number, error = placed.errors[0]
        first = error.splitlines()[0]
        p.fail(f"Order {number} failed: {first}", error_hint(error))
    if placed.mismatches:
        p.fail(
            "Some orders failed with Restate's journal mismatch (HTTP 570, RT0016): when Restate replayed "
            "handle, it took another branch than on the attempt before, so the steps it asked for did not "
            "match the journal."
        )
    p.ok(f"all {REPLAY_ORDERS} orders completed while Restate replayed handle after every step")
    keys = [receipt.get("payment_key") if isinstance(receipt, dict) else None for _, _, receipt in placed.receipts]
    if len(set(keys)) < len(keys):
        p.fail(
            f"{len(keys)} orders got only {len(set(keys))} different payment keys. The provider charges a key "
            "once, so the orders with a repeated key were never paid for.",
            "A payment key must be the same on every attempt of one order, and different for every order: "
            "str(ctx.uuid()) is both (it is seeded by the invocation id).",
        )
    p.ok("every order has a payment key of its own")
    for number, order, receipt in placed.receipts:
        key, amount = receipt["payment_key"], receipt["amount"]
        if key not in charged:
            p.fail(
                f"The receipt of order {number} carries the payment key {key}, but the provider was never charged "
                "with that key: the payment step ran with another key, drawn by an earlier attempt.",
                "uuid.uuid4() draws a new key on every attempt; the payment step keeps the key of the attempt "
                "that ran it. Take the key from the context: str(ctx.uuid()).",
            )
        if charged[key] != amount:
            p.fail(
                f"The receipt of order {number} says {amount}, but the provider charged {charged[key]} for its key.",
                "The amount on the receipt and the amount charged must come from the same decision: draw the "
                "discount once per invocation (ctx.random()).",
            )
        full = len(order["tickets"]) * _TICKET_PRICE
        if amount not in (full, full * 8 // 10):
            p.fail(f"Order {number} ({len(order['tickets'])} tickets) cost {amount}: neither {full} nor 20 % off.")
    p.ok("the provider charged every receipt's key with the receipt's amount")
    discounted = {receipt["amount"] < len(order["tickets"]) * _TICKET_PRICE for _, order, receipt in placed.receipts}
    if len(discounted) < 2:
        p.fail(
            f"All {REPLAY_ORDERS} orders got the same discount decision: the draw is no longer random.",
            "Keep the chance: if ctx.random().random() < DISCOUNT_CHANCE: ...",
        )
    p.ok("some orders got the discount and some did not")


# -- beyond the tour: testing your handlers (section 13) --------------------------------------------

#: The learner's test module, in the workspace of section 13.
TEST_MODULE = "test_shop.py"
#: The wiring the check runs the learner's tests with (SHOP_APP picks the implementation).
_TEST_CONFTEST = "tour/testing/solution/conftest.py"
#: The implementations the learner's tests run against: the reference, then the planted bugs.
REFERENCE_SHOP = "tour.testing.shop.app"
PLANTED_BUGS = {
    "tour.testing.buggy_sold_on_decline.app": "sells the seats and empties the cart although the card was declined",
    "tour.testing.buggy_double_booking.app": "puts a seat into a second cart although another cart holds it",
}


@dataclass(frozen=True)
class LearnerTestRun:
    """One pytest run of the learner's tests against one implementation of the shop."""

    shop: str
    passed: tuple[str, ...]
    failed: dict[str, str]
    output: str
    #: Why the test module could not be collected (it did not import), if so.
    import_error: str | None = None
    #: Why no test could run at all (every one failed while setting up, or pytest hung), if so.
    broken: str | None = None

    @property
    def ran(self) -> int:
        return len(self.passed) + len(self.failed)


def run_learner_tests(folder: Path, shop: str, *, timeout: float = 180.0) -> LearnerTestRun:
    """Run `folder`/test_shop.py with pytest in a fresh process against the shop module `shop`.

    The tests run on a copy of `folder` with the course's own conftest.py, so the verdict does not
    depend on the learner's wiring; the copy keeps the package layout, so relative imports work.
    A run whose every test failed while setting up (Restate did not start, say) is tried once more.
    """
    run = _pytest_once(folder, shop, timeout)
    if run.broken is not None:
        run = _pytest_once(folder, shop, timeout)
    return run


def _pytest_once(folder: Path, shop: str, timeout: float) -> LearnerTestRun:
    with tempfile.TemporaryDirectory(prefix="tourlab-tests-") as scratch:
        copy = Path(scratch) / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        (copy / "conftest.py").write_text((PROJECT_ROOT / _TEST_CONFTEST).read_text())
        report = Path(scratch) / "report.xml"
        command = [
            sys.executable, "-m", "pytest", "-p", "anyio", "-p", "no:cacheprovider", "-o", "addopts=",
            "-q", "--tb=short", f"--junitxml={report}", str(copy / TEST_MODULE),
        ]  # fmt: skip
        env = {**os.environ, "SHOP_APP": shop, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        try:
            done = subprocess.run(
                command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return LearnerTestRun(shop, (), {}, "", broken=f"pytest did not finish within {timeout:g} s")
        output = (done.stdout + done.stderr).replace(f"{scratch}/", "")
        passed: list[str] = []
        failed: dict[str, str] = {}
        setup_errors: list[str] = []
        import_error = None
        cases = list(ElementTree.parse(report).getroot().iter("testcase")) if report.exists() else []
        for case in cases:
            failure = case.find("failure")
            problem = failure if failure is not None else case.find("error")
            name = case.get("name", "?")
            if problem is not None and not case.get("classname"):  # a collection error: no test ran
                import_error = _failure_line(problem)
            elif problem is not None:
                failed[name] = _failure_line(problem)
                if failure is None:  # an error outside the test's own code: a fixture did not set up
                    setup_errors.append(failed[name])
            elif case.find("skipped") is None:
                passed.append(name)
        broken = setup_errors[0] if setup_errors and len(setup_errors) == len(cases) else None
        return LearnerTestRun(shop, tuple(passed), failed, output, import_error, broken)


def _failure_line(problem: ElementTree.Element) -> str:
    """The line that says why a test failed: pytest's first ``E   ...`` line, else the report's message."""
    errors = [line[1:].strip() for line in (problem.text or "").splitlines() if line.startswith("E ")]
    message = next(iter((problem.get("message") or "").strip().splitlines()), problem.tag)
    return errors[0] if errors else message


def check_catch_double_booking(p: Probe) -> None:
    """Your test_shop.py passes on the reference shop and fails on both planted bugs (section 13).

    Checked by running the learner's test module with pytest (a fresh process, the course's
    conftest.py, always-replay Restate from tour/testing/restate_fixture.py) three times: against
    the reference shop every test passes (at least one test ran); against
    ``buggy_sold_on_decline`` and against ``buggy_double_booking`` at least one test fails.
    """
    folder = p.lab.app_dir
    if folder is None or not (folder / TEST_MODULE).is_file():
        p.fail(
            f"Your workspace has no {TEST_MODULE}: the cells of this chapter write it.",
            f"Run the %%handler {TEST_MODULE} cells above (from the first one on), then check again.",
        )
    reference = run_learner_tests(folder, REFERENCE_SHOP)
    if reference.broken is not None:
        p.fail(
            f"None of your tests could run against the reference shop: {reference.broken}",
            "If it names your code, fix that; if it names Restate, run the check again "
            "(the output of the tests from the notebook shows the whole message).",
        )
    if reference.import_error is not None:
        p.fail(
            f"pytest could not import {TEST_MODULE}: {reference.import_error}",
            error_hint(reference.import_error)
            or "Fix that line of the test module; the message says what Python did not like.",
        )
    if reference.ran == 0:
        last = [line for line in reference.output.splitlines() if line.strip()][-3:]
        p.fail(
            f"pytest ran no test of {TEST_MODULE}: {' / '.join(last) or 'no output'}",
            "Test functions start with test_ and are async def with a client parameter, like the ones above.",
        )
    if reference.failed:
        name, message = next(iter(reference.failed.items()))
        p.fail(
            f"{name} fails against the reference shop ({REFERENCE_SHOP}), which is correct: {message}",
            "A test has to pass on correct code: assert what the shop does when it works "
            "(run the tests from the notebook to see the whole message).",
        )
    p.ok(f"all {_count(reference.ran, 'test')} of {TEST_MODULE} pass against the reference shop")
    with concurrent.futures.ThreadPoolExecutor(len(PLANTED_BUGS)) as pool:
        runs = list(pool.map(lambda shop: run_learner_tests(folder, shop), PLANTED_BUGS))
    for run in runs:
        bug = run.shop.removeprefix("tour.testing.").removesuffix(".app")
        if not run.failed:
            p.fail(
                f"Against {bug}, which {PLANTED_BUGS[run.shop]}, every test passed: none caught that bug.",
                None
                if "double" in bug
                else "Keep test_a_declined_card_keeps_the_cart_and_the_reservations from above.",
            )
        p.ok(f"{bug} is caught: {', '.join(sorted(run.failed))} failed")


# -- beyond the tour: workflows (08), sagas (09), external events and concurrency (10) --------------

_WORKFLOW = "CheckoutWorkflow"
_RUN = "CheckoutWorkflow/<key>/run"
_CONFIRM = "CheckoutWorkflow/<key>/confirmPayment"
_BOOK = "BookingService/book"


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set variables the tour app reads at call time (its timers) while a check runs, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start(p: Probe, service: str, key: str | None, handler: str, arg: Any = NO_ARG) -> str:
    """Send an invocation without waiting for it (the clean-up knows it)."""
    inv_id = p.lab.send(service, key, handler, arg)
    p.sent.append(inv_id)
    p.last_id = inv_id
    return inv_id


def _submit(p: Probe, key: str, order: dict[str, Any]) -> str:
    """Start the checkout workflow `key` (its run handler) without waiting for it."""
    inv_id = p.lab.submit(_WORKFLOW, key, order).invocation_id
    p.sent.append(inv_id)
    p.last_id = inv_id
    return inv_id


@dataclass
class _Seen:
    """An invocation and its journal, as last read; `stuck` when it (or what it waits for) keeps failing."""

    invocation: Invocation | None
    entries: list[JournalEntry]
    stuck: Stuck | None = None

    @property
    def done(self) -> bool:
        return self.invocation is not None and self.invocation.status == "completed"

    @property
    def status(self) -> str | None:
        return self.invocation.status if self.invocation else None


def _follow(
    p: Probe, inv_id: str, what: str, until: Callable[[_Seen], bool] | None = None, *, timeout: float | None = None
) -> _Seen:
    """Watch an invocation until `until` holds or it completed (or the time is up).

    Unlike ``Probe.wait_finished`` it lets an invocation retry a passing error (a provider that is
    unreachable for a while: the saga's retries); one that fails with what looks like a bug, or is
    paused, fails the check at once, named.
    """
    next_look = {"at": time.monotonic() + _DIAGNOSE_AFTER}

    def look() -> _Seen:
        invocation = p.lab.invocation(inv_id)
        seen = _Seen(invocation, p.lab.journal(inv_id) if invocation is not None else [])
        now = time.monotonic()
        if invocation is not None and not seen.done and (invocation.status in _FAILING or now >= next_look["at"]):
            next_look["at"] = now + _DIAGNOSE_EVERY
            seen.stuck = p.lab.why_stuck(inv_id)
        return seen

    def settled(seen: _Seen) -> bool:
        failing = seen.stuck is not None and not seen.stuck.transient
        return seen.done or failing or (until is not None and until(seen))

    seen = poll(look, settled, timeout=timeout or p.timeout, interval=0.03).value
    reached = until is not None and until(seen)
    if not seen.done and not reached and seen.stuck is not None and not seen.stuck.transient:
        p._fail_stuck(what, seen.stuck)
    return seen


def _outcome(p: Probe, inv_id: str) -> tuple[Any, InvocationError | None]:
    """The result of a completed invocation, or the error it ended with."""
    try:
        return p.lab.output(inv_id), None
    except InvocationError as failed:
        return None, failed


def _released(entries: list[JournalEntry]) -> list[str]:
    """The seats a journal sent TicketObject/unreserve to, in journal order."""
    return [key_of(m.target) for m in messages(entries, "TicketObject", "unreserve")]


def _await_messages(p: Probe, entries: list[JournalEntry], handler: str, what: str) -> None:
    """Wait until the TicketObject calls and messages of a journal to `handler` have completed."""
    p.wait_all([m.callee_id for m in messages(entries, "TicketObject", handler) if m.callee_id], what)


def _free(p: Probe, seats: list[str]) -> list[str]:
    """The seats among `seats` that are not available."""
    return [s for s in seats if _status(p, s) not in _AVAILABLE]


# -- 08: workflows ----------------------------------------------------------------------------------


def _waits_for_promise(seen: _Seen) -> bool:
    return any(e.entry_type == "Command: GetPromise" and e.completed is False for e in seen.entries)


def _checkout_order(p: Probe, name: str, seat_names: list[str]) -> tuple[str, dict[str, Any]]:
    """A workflow id and an order of RESERVED seats for it (nobody else uses them)."""
    seats = [p.key(seat) for seat in seat_names]
    p.seed({("TicketObject", seat): {"status": "RESERVED"} for seat in seats})
    return p.key(name), {"user_id": p.key(f"{name}-user"), "tickets": seats}


def _until_waiting_for_payment(p: Probe, run_id: str) -> None:
    seen = _follow(p, run_id, _RUN, _waits_for_promise)
    if not _waits_for_promise(seen):
        p.fail(
            f"{_RUN} did not get to wait for the promise 'payment' within {p.timeout:g} s "
            f"(it was {seen.status!r}), so the check could not confirm a payment.",
            'run asks the provider for the money, then waits: ctx.promise("payment", ...).value().',
        )


def _confirm(p: Probe, key: str, confirmation: dict[str, Any]) -> tuple[str, InvocationError | None]:
    """Call confirmPayment of workflow `key`; fails at once if it waits for the promise itself."""
    confirm_id = _start(p, _WORKFLOW, key, "confirmPayment", confirmation)
    seen = _follow(p, confirm_id, _CONFIRM, _waits_for_promise)
    if not seen.done and _waits_for_promise(seen):
        p.fail(
            "confirmPayment waits for the promise 'payment' itself instead of completing it, so neither it nor "
            "run ever goes on. The check stopped it.",
            "Waiting is run's part (.value()); confirmPayment completes the promise: "
            'await ctx.promise("payment", type_hint=PaymentConfirmation).resolve(confirmation).',
        )
    if not seen.done:
        p.fail(f"{_CONFIRM} did not finish within {p.timeout:g} s (it was {seen.status!r}); the check stopped it.")
    return confirm_id, _outcome(p, confirm_id)[1]


def _run_after_confirmation(p: Probe, run_id: str, confirm_id: str) -> Any:
    """What run returns once confirmPayment answered; explains why it still waits if it does."""
    seen = _follow(p, run_id, _RUN, timeout=4.0)
    if not seen.done:
        completed = [e.name for e in p.lab.journal(confirm_id) if e.entry_type == "Command: CompletePromise"]
        if not completed:
            p.fail("confirmPayment answered, but it completed no promise, so run still waits for 'payment'.")
        if "payment" not in completed:
            p.fail(
                f"confirmPayment completed the promise {completed[0]!r}, but run waits for the promise 'payment'.",
                'A promise is found by its name: ctx.promise("payment") in both handlers.',
            )
        p.fail(f"confirmPayment completed the promise 'payment', but {_RUN} still waits ({seen.status!r}).")
    result, failed = _outcome(p, run_id)
    if failed is not None:
        p.fail(
            f"After confirmPayment, run ended with an error: {failed}",
            "resolve(...) hands run a value; reject(...) makes run's await raise a TerminalError.",
        )
    return result


def check_confirm_payment(p: Probe) -> None:
    """CheckoutWorkflow/confirmPayment completes the durable promise run waits for (section 08).

    Checked, with a payment timeout far away: while run waits for the promise "payment",
    confirmPayment with the provider's confirmation answers without waiting itself, run then
    finishes and returns True, and status (which peeks at the promise) shows exactly that
    confirmation. A confirmation that arrives before run asks for it is kept: a run started
    afterwards finishes at once.
    """
    with environment(TOUR_PAYMENT_TIMEOUT_SECONDS="3600"):
        key, order = _checkout_order(p, "order", ["seat-a", "seat-b"])
        run_id = _submit(p, key, order)
        _until_waiting_for_payment(p, run_id)
        confirmation = {"payment_id": p.key("payment"), "amount": 80}
        confirm_id, failed = _confirm(p, key, confirmation)
        if failed is not None:
            p.fail(f"confirmPayment ended with an error: {failed}", error_hint(str(failed)))
        p.ok("confirmPayment answers without waiting")
        paid = _run_after_confirmation(p, run_id, confirm_id)
        if paid is not True:
            p.fail(f"After confirmPayment run returned {paid!r}; with the payment confirmed it returns True.")
        p.ok("once confirmPayment completed the promise 'payment', run goes on and returns True")
        status = p.invoke(_WORKFLOW, key, "status")
        payment = status.get("payment") if isinstance(status, dict) else None
        if payment != confirmation:
            p.fail(
                f"The provider confirmed {p.named(confirmation)}, but the promise holds {p.named(payment)} "
                "(status peeks at it): resolve it with the confirmation itself.",
                "confirm_payment gets the confirmation as its argument: resolve(confirmation).",
            )
        p.ok("the promise holds the provider's confirmation (status shows it)")
        early_key, early_order = _checkout_order(p, "early-order", ["seat-c"])
        early_id, failed = _confirm(p, early_key, {"payment_id": p.key("early-payment"), "amount": 40})
        if failed is not None:
            p.fail(f"confirmPayment before run started ended with an error: {failed}", error_hint(str(failed)))
        if _run_after_confirmation(p, _submit(p, early_key, early_order), early_id) is not True:
            p.fail("A confirmation that came before run started was lost: run did not return True.")
    p.ok("a confirmation that arrives before run waits for it is kept")


def _paid_in_time(p: Probe) -> None:
    with environment(TOUR_PAYMENT_TIMEOUT_SECONDS="3600"):
        key, order = _checkout_order(p, "order", ["seat-a", "seat-b"])
        run_id = _submit(p, key, order)
        _until_waiting_for_payment(p, run_id)
        confirm_id, failed = _confirm(p, key, {"payment_id": p.key("payment"), "amount": 80})
        completes = any(
            e.entry_type == "Command: CompletePromise" and e.name == "payment" for e in p.lab.journal(confirm_id)
        )
        if failed is not None or not completes:
            p.fail(
                "The check confirms a payment with confirmPayment, which "
                + (f"ended with an error: {failed}" if failed else "does not complete the promise 'payment' yet.")
                + " It cannot try the paid branch of run without it.",
                'Finish section.check("confirm_payment") first.',
            )
        seen = _follow(p, run_id, _RUN, timeout=4.0)
    if not seen.done:
        p.fail(
            "confirmPayment completed the promise 'payment', but run keeps waiting: the race must include "
            "payment.value().",
            'Finish section.check("confirm_payment") first, then: restate.select(paid=payment.value(), '
            "timeout=ctx.sleep(payment_timeout())).",
        )
    paid, failed = _outcome(p, run_id)
    if failed is not None:
        p.fail(f"A payment confirmed in time made run end with an error: {failed}", error_hint(str(failed)))
    if paid is not True:
        p.fail(
            f"The payment was confirmed in time, yet run returned {paid!r}.",
            "select names the winner after its keyword: with select(paid=..., timeout=...) a confirmed payment "
            'gives ["paid", <confirmation>], so compare with "paid".',
        )
    p.ok("a payment confirmed in time: run returns True")
    entries = p.journal(run_id)
    if _released(entries):
        p.fail("The payment was confirmed in time, yet run released the seats (TicketObject/unreserve).")
    _await_messages(p, entries, "markAsSold", "run sent markAsSold")
    unsold = [s for s in order["tickets"] if _status(p, s) != "SOLD"]
    if unsold or _mails(order["user_id"]) != ["payment succeeded"]:
        p.fail(
            f"After a payment in time the seats are {p.named([_status(p, s) for s in order['tickets']])} and the "
            f"user got {_mails(order['user_id'])}; expected SOLD seats and one 'payment succeeded' e-mail.",
            "Keep the paid branch as it was: markAsSold for every seat, the success e-mail, status 'paid'.",
        )
    p.ok("the paid seats are SOLD and the user gets one 'payment succeeded' e-mail")


def _timer_problem(p: Probe, seen: _Seen) -> NoReturn:
    sleeps = [e for e in seen.entries if e.entry_type == "Command: Sleep"]
    if not sleeps:
        p.fail(
            "Nobody confirmed the payment, and seconds after the payment timeout (1 s in this check) run still "
            "waits for it: nothing races the promise. The check stopped it.",
        )
    created = seen.invocation.created_at if seen.invocation else None
    wake = sleeps[0].wake_up_at
    seconds = (
        (datetime.fromisoformat(wake) - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()
        if wake and created
        else None
    )
    after = f"{seconds:.0f} s after run started" if seconds is not None else "later"
    p.fail(
        f"run's timer fires {after}, not after payment_timeout() (1 s in this check). The check stopped it.",
        "Take the duration from the settings, so it can be configured: ctx.sleep(payment_timeout()) "
        "(TOUR_PAYMENT_TIMEOUT_SECONDS; 10 minutes by default).",
    )


def _payment_times_out(p: Probe) -> None:
    with environment(TOUR_PAYMENT_TIMEOUT_SECONDS="1"):
        key, order = _checkout_order(p, "late-order", ["seat-c", "seat-d"])
        run_id = _submit(p, key, order)
        seen = _follow(p, run_id, _RUN, timeout=7.0)
    if not seen.done:
        _timer_problem(p, seen)
    result, failed = _outcome(p, run_id)
    if failed is not None:
        p.fail(f"When the payment timed out, run ended with an error: {failed}", error_hint(str(failed)))
    entries = p.journal(run_id)
    sold = messages(entries, "TicketObject", "markAsSold")
    if result is not False or sold:
        p.fail(
            f"Nobody confirmed the payment, yet after the timeout run returned {result!r}"
            + (" and sold the seats" if sold else "")
            + ".",
            find_exercise("payment_timeout").hints[1],
        )
    if not any(e.entry_type == "Command: Sleep" for e in entries):
        p.fail(
            "run gave up on the payment without a durable timer in its journal: after a crash or a restart "
            "it would wait again from the start.",
            "Use Restate's timer, ctx.sleep(payment_timeout()), inside restate.select.",
        )
    p.ok("no payment within payment_timeout(): run returns False, woken by a durable timer (ctx.sleep)")
    released = _released(entries)
    kept = [s for s in order["tickets"] if s not in released]
    if kept:
        p.fail(
            f"After the payment timed out run did not release {p.named(kept)}: they stay RESERVED for nobody.",
            'for ticket_id in order["tickets"]: ctx.object_send(unreserve, key=ticket_id, arg=None)',
        )
    _await_messages(p, entries, "unreserve", "run sent unreserve")
    if _free(p, order["tickets"]):
        p.fail(f"run sent unreserve, but {p.named(_free(p, order['tickets']))} are still not available.")
    p.ok("after the timeout every seat is released")
    mails = _mails(order["user_id"])
    status = p.invoke(_WORKFLOW, key, "status")
    if mails != ["payment failed"] or not isinstance(status, dict) or status.get("status") != "payment timed out":
        p.fail(
            f"After the timeout the user got {mails} and status says {p.named(status)}; expected one "
            "'payment failed' e-mail and the status 'payment timed out'.",
            'In the timeout branch: the failure e-mail as a ctx.run_typed step, then ctx.set("status", '
            '"payment timed out").',
        )
    p.ok("the user gets one 'payment failed' e-mail and status says 'payment timed out'")


def check_payment_timeout(p: Probe) -> None:
    """CheckoutWorkflow/run races the payment against a durable timer (section 08).

    Checked, for orders of two RESERVED seats: confirmed in time (confirmPayment), run returns
    True, sells the seats and sends one "payment succeeded" e-mail; with no confirmation within
    payment_timeout() (1 s: the check sets TOUR_PAYMENT_TIMEOUT_SECONDS), run returns False soon
    after, woken by a durable timer (ctx.sleep in its journal; a timer set for longer than
    payment_timeout() is named), sells nothing, releases every seat, sends one "payment failed"
    e-mail and sets the status "payment timed out".
    """
    _paid_in_time(p)
    _payment_times_out(p)


# -- 09: sagas ---------------------------------------------------------------------------------------


def _book(p: Probe, order: dict[str, Any]) -> tuple[str, Any, InvocationError | None]:
    """Run a booking to its end; returns its id and its result or error."""
    inv_id = _start(p, "BookingService", None, "book", order)
    seen = _follow(p, inv_id, _BOOK, timeout=15.0)
    if not seen.done:
        p.fail(f"{_BOOK} did not finish within 15 s (it was {seen.status!r}); the check stopped it.")
    result, failed = _outcome(p, inv_id)
    return inv_id, result, failed


def _must_fail(p: Probe, when: str, result: Any, failed: InvocationError | None) -> InvocationError:
    if failed is None:
        p.fail(
            f"{when}, book returned {result!r} instead of failing: the caller (and Restate) must see the booking fail.",
            "After the compensations, raise the error again: a bare raise at the end of the except block.",
        )
    return failed


def _undone_in_reverse(p: Probe, entries: list[JournalEntry], seats: list[str], when: str) -> None:
    """The journal released exactly `seats`, once each, newest first, and they are available again."""
    released = _released(entries)
    if not released:
        p.fail(
            f"{when}, book released none of the seats it had reserved: they stay RESERVED for nobody.",
            find_exercise("booking_compensations").hints[0],
        )
    missing = [s for s in seats if s not in released]
    if missing:
        p.fail(f"{when}, book released {p.named(released)} but not {p.named(missing)}.")
    if len(released) != len(set(released)):
        p.fail(f"{when}, book released a seat more than once: {p.named(released)}.")
    newest_first = list(reversed(seats))
    if released[: len(seats)] != newest_first:
        p.fail(
            f"{when}, book released the seats in the order {p.named(released)}; undo newest first: "
            f"{p.named(newest_first)}.",
            "Run the compensations in reverse: for undo in reversed(compensations): await undo().",
        )
    _await_messages(p, entries, "unreserve", f"{when}, book sent unreserve")
    if _free(p, seats):
        p.fail(f"{when}, book sent unreserve, but {p.named(_free(p, seats))} are not available again.")


def _charged(user: str) -> list[payment_client.Charge]:
    return [c for c in payment_client.charges() if c.user_id == user and c.succeeded]


def _booking(p: Probe, user: str, *seats: str) -> tuple[str, list[str], dict[str, Any]]:
    """A customer, their seats and the order for them (keys nobody else uses)."""
    user_key, seat_keys = p.key(user), [p.key(seat) for seat in seats]
    return user_key, seat_keys, {"user_id": user_key, "tickets": seat_keys}


def _booking_succeeds(p: Probe) -> None:
    user, seats, order = _booking(p, "ann", "seat-a", "seat-b")
    inv_id, result, failed = _book(p, order)
    if failed is not None or result is not True:
        p.fail(
            f"A booking of two free seats with a good card ended with {failed or result!r}; expected True.",
            error_hint(str(failed)) if failed else None,
        )
    entries = p.journal(inv_id)
    if _released(entries):
        p.fail("A booking where every step worked released its seats: undo only when a step fails for good.")
    charges = _charged(user)
    refunded = {r.idempotency_key for r in payment_client.refunds()}
    if [c.amount for c in charges] != [80] or any(c.idempotency_key in refunded for c in charges):
        p.fail(
            f"A booking of two seats that worked charged {[c.amount for c in charges]} and refunded "
            f"{sum(c.idempotency_key in refunded for c in charges)}; expected one charge of 80 and no refund."
        )
    _await_messages(p, entries, "markAsSold", "book sent markAsSold")
    if any(_status(p, s) != "SOLD" for s in seats):
        p.fail("A booking that worked left its seats unsold: keep the markAsSold messages at the end.")
    p.ok("a booking where every step works: True, one charge of 80, nothing undone, the seats SOLD")


def _booking_declined(p: Probe) -> None:
    user, seats, order = _booking(p, "bob", "seat-c", "seat-d")
    payment_client.decline(user)
    inv_id, result, failed = _book(p, order)
    failure = _must_fail(p, "When the card was declined", result, failed)
    _undone_in_reverse(p, p.journal(inv_id), seats, "When the card was declined")
    p.ok(f"a declined card: book fails ({failure.status_code}) and releases both seats, newest first")


def _booking_seat_taken(p: Probe) -> None:
    free, taken = p.key("seat-e"), p.key("seat-taken")
    p.seed({("TicketObject", taken): {"status": "RESERVED"}})
    user = p.key("cid")
    order = {"user_id": user, "tickets": [free, taken]}
    inv_id, result, failed = _book(p, order)
    _must_fail(p, "When a seat was taken", result, failed)
    entries = p.journal(inv_id)
    if taken in _released(entries):
        p.fail(
            "When a seat was taken, book released it too: that seat belongs to someone else's reservation.",
            "Add a seat's compensation only after reserve answered True, not for every seat up front.",
        )
    _undone_in_reverse(p, entries, [free], "When a seat was taken")
    if _status(p, taken) != "RESERVED" or _charged(user):
        p.fail("When a seat was taken, book charged the card or changed the other reservation.")
    p.ok("a taken seat: book fails and releases only the seat it had reserved")


def _refund_checks(p: Probe, entries: list[JournalEntry], user: str) -> None:
    charges = _charged(user)
    if not charges:
        p.fail("The check needs a booking that gets as far as the charge, but this one charged nothing.")
    keys = {c.idempotency_key for c in charges}
    if not any(r.idempotency_key in keys for r in payment_client.refunds()):
        p.fail(
            "The tickets could not be sent after the card was charged, and the charge was not refunded.",
            'Refund with the key the charge used: lambda: ctx.run_typed("refund", payment_client.refund, '
            "RunOptions(type_hint=bool), payment_key).",
        )
    undo_steps = [e for e in entries if e.entry_type == "Command: Run" and e.name not in ("charge", "send tickets")]
    if not undo_steps:
        p.fail(
            "The refund happened outside the journal: on a retry it would run again, and the journal does not show it.",
            'Make it a step: ctx.run_typed("refund", payment_client.refund, RunOptions(type_hint=bool), payment_key).',
        )
    releases = [m.index for m in messages(entries, "TicketObject", "unreserve")]
    if releases and undo_steps[-1].index > min(releases):
        p.fail(
            "book released the seats before it refunded the charge; undo newest first: the charge came last, "
            "so the refund goes first.",
            "Run the compensations in reverse: for undo in reversed(compensations): await undo().",
        )


def _booking_fails_after_charge(p: Probe) -> None:
    user, seats, order = _booking(p, "dan", "seat-f", "seat-g")
    email_client.fail_next(100)
    try:
        inv_id, result, failed = _book(p, order)
    finally:
        email_client.fail_next(0)
    when = "When the tickets could not be sent after the charge"
    _must_fail(p, when, result, failed)
    entries = p.journal(inv_id)
    _refund_checks(p, entries, user)
    _undone_in_reverse(p, entries, seats, when)
    p.ok("tickets that cannot be sent after the charge: book refunds (a journaled step), then releases the seats")


def _booking_cancelled(p: Probe) -> None:
    _user, seats, order = _booking(p, "eve", "seat-h", "seat-i")
    payment_client.fail_next_charges(100)
    try:
        inv_id = _start(p, "BookingService", None, "book", order)
        retrying = _follow(p, inv_id, _BOOK, lambda seen: seen.status == "backing-off")
        if retrying.done:
            p.fail("With the provider unreachable, book finished before the check could cancel it.")
        p.lab.cancel(inv_id)
        p.lab.resume(inv_id)  # a backing-off invocation sees the cancel at its next attempt: now
        seen = _follow(p, inv_id, _BOOK, timeout=10.0)
    finally:
        payment_client.fail_next_charges(0)
    if not seen.done:
        p.fail(f"After the cancel, {_BOOK} did not finish within 10 s (it was {seen.status!r}).")
    when = "When the booking was cancelled"
    failure = _must_fail(p, when, *_outcome(p, inv_id))
    _undone_in_reverse(p, p.journal(inv_id), seats, when)
    if failure.status_code != 409:
        p.fail(f"{when}, book ended with {failure} instead of the cancel (409): raise the error it caught.")
    p.ok("a cancelled booking (while the charge is retried): the same compensations run, it ends cancelled (409)")


def check_booking_compensations(p: Probe) -> None:
    """BookingService/book as a saga (section 09).

    Checked: a booking where every step works returns True, charges 80 once, undoes nothing and
    sells the seats. When the card is declined (TerminalError 402) book fails and releases both
    seats, newest first. When the second seat is taken it fails and releases only the first one
    (never the other customer's seat). When the tickets cannot be sent after the charge
    (max_attempts exhausted) it refunds the charge in a journaled step with the charge's key, then
    releases the seats, newest first. Cancelled while the charge is being retried, it runs the
    same compensations and ends cancelled (409).
    """
    _booking_succeeds(p)
    _booking_declined(p)
    _booking_seat_taken(p)
    _booking_fails_after_charge(p)
    _booking_cancelled(p)


# -- 10: concurrency -----------------------------------------------------------------------------------


def _group_all_free(p: Probe) -> None:
    cart, earlier = p.key("group-cart"), p.key("seat-old")
    seats = [p.key(name) for name in ("seat-a", "seat-b", "seat-c")]
    p.seed({("CartObject", cart): {"tickets": [earlier]}, ("TicketObject", earlier): {"status": "RESERVED"}})
    result = p.invoke("CartObject", cart, "addTickets", seats)
    if result is not True:
        p.fail(f"addTickets of three free seats returned {result!r}; expected True.")
    entries = p.journal()
    calls = [c for c in messages(entries, "TicketObject", "reserve") if c.entry_type == "Command: Call"]
    if sorted(key_of(c.target) for c in calls) != sorted(seats):
        p.fail(
            f"addTickets of {p.named(seats)} called reserve for {p.named([key_of(c.target) for c in calls])}; "
            "expected one call per seat."
        )
    answers = [e.index for e in entries if e.entry_type == "Notification: Call"]
    if answers and max(c.index for c in calls) > min(answers):
        p.fail(
            "addTickets reserved the seats one after the other: each call was answered before the next one "
            "started, so a group of ten takes ten round trips.",
        )
    p.ok("addTickets sends all the reservations at once and returns True when every seat is free")
    tickets = p.state("CartObject", cart).get("tickets")
    if not isinstance(tickets, list) or sorted(tickets) != sorted([earlier, *seats]):
        p.fail(
            f"After addTickets the cart holds {p.named(tickets)}; expected the ticket it had plus the three new ones.",
            "keep_in_cart(ctx, reserved) adds them to what the cart already holds (and schedules their expiry).",
        )
    expiring = [e.value for e in messages(entries, "CartObject", "expireTicket") if e.wake_up_at]
    if any(seat not in expiring for seat in seats):
        p.fail(
            "addTickets put the seats into the cart without scheduling their expiry: they would stay "
            "reserved for ever.",
            "await keep_in_cart(ctx, reserved) stores them and sends the delayed expireTicket for each.",
        )
    p.ok("the cart keeps what it had and gains the three seats, each with its expiry")


def _group_one_taken(p: Probe) -> None:
    cart, taken = p.key("other-cart"), p.key("seat-taken")
    free = [p.key("seat-d"), p.key("seat-e")]
    p.seed({("TicketObject", taken): {"status": "RESERVED"}})
    result = p.invoke("CartObject", cart, "addTickets", [free[0], taken, free[1]])
    if result is not False:
        p.fail(
            f"One of the three seats was taken, yet addTickets returned {result!r}; a group is all or nothing.",
            find_exercise("group_booking").hints[1],
        )
    entries = p.journal()
    released = _released(entries)
    if taken in released:
        p.fail(
            "addTickets released the seat that was taken: that reservation belongs to another cart.",
            "Release only the seats whose reserve answered True.",
        )
    kept = [s for s in free if s not in released]
    if kept:
        p.fail(
            f"One seat was taken and addTickets returned False, but it did not release {p.named(kept)}: they "
            "stay RESERVED for nobody.",
            "For each seat you did reserve: ctx.object_send(unreserve, key=seat, arg=None).",
        )
    _await_messages(p, entries, "unreserve", "addTickets sent unreserve")
    if _free(p, free) or _status(p, taken) != "RESERVED":
        p.fail("After the rollback the seats are not as they were before addTickets.")
    if p.state("CartObject", cart).get("tickets"):
        p.fail("addTickets returned False but kept seats in the cart: keep nothing when the group fails.")
    p.ok("one seat taken: addTickets returns False, releases the others, keeps nothing")


def check_group_booking(p: Probe) -> None:
    """CartObject/addTickets reserves a group of seats in parallel, all or nothing (section 10).

    Checked: for three free seats, addTickets starts all three TicketObject/reserve calls before
    any answer arrives (parallel, not one after the other), returns True and keeps the seats in
    the cart next to the one it held, each with a scheduled expireTicket. When one of three seats
    is taken, it returns False, releases the two it reserved (not the taken one) and the cart
    keeps nothing.
    """
    _group_all_free(p)
    _group_one_taken(p)


CHECKS: dict[str, Callable[[Probe], None]] = {
    "checkout_calls_handle": check_checkout_calls_handle,
    "expire_ticket": check_expire_ticket,
    "reserve": check_reserve,
    "unreserve": check_unreserve,
    "mark_as_sold": check_mark_as_sold,
    "email_notifications": check_email_notifications,
    "checkout_marks_sold": check_checkout_marks_sold,
    "deterministic_checkout": check_deterministic_checkout,
    "catch_double_booking": check_catch_double_booking,
    "confirm_payment": check_confirm_payment,
    "payment_timeout": check_payment_timeout,
    "booking_compensations": check_booking_compensations,
    "group_booking": check_group_booking,
}


def run_check(exercise_id: str, lab: Lab) -> CheckResult:
    """Run one exercise's behaviour check against whatever code the lab serves right now."""
    exercise = find_exercise(exercise_id)
    probe = Probe(lab)
    result = CheckResult(exercise)
    try:
        CHECKS[exercise_id](probe)
    except CheckFailedError as failed:
        result.problem = failed.problem
        result.hint = failed.hint or exercise.hints[0]
    finally:
        probe.cleanup()
    result.passed = probe.passed
    return result
