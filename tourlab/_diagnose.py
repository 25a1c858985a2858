"""Why does an invocation not finish? Follow it to the invocation that keeps failing.

An invocation may fail itself, wait for a callee that fails, or wait for its turn on a Virtual
Object key that another, failing invocation holds. The answer names that invocation, its last
failure and how to unblock it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tourlab._client import AdminIngressClient
from tourlab._model import FAILING_STATUSES, HOLDING_STATUSES, QUEUED_STATUSES, Invocation, StuckRelation

_MAX_DEPTH = 8
#: Failures that often go away by themselves (a network or a provider having a bad moment).
_TRANSIENT = re.compile(r"ConnectionError|TimeoutError|Timeout|cannot reach|unreachable|temporar", re.IGNORECASE)


@dataclass(frozen=True)
class Stuck:
    """`asked` cannot finish because `culprit` keeps failing (or waits for itself: a deadlock)."""

    asked: Invocation
    culprit: Invocation
    #: How `asked` depends on `culprit`: "itself", "calls", "waits for the key" or "deadlock".
    relation: StuckRelation

    @property
    def transient(self) -> bool:
        """Whether the failure may go away on a later retry (unlike a bug in the code, a pause or a deadlock)."""
        if self.relation == "deadlock" or self.culprit.status == "paused":
            return False
        return bool(_TRANSIENT.search(self.culprit.failure))

    def __str__(self) -> str:
        culprit = self.culprit
        who = f"{culprit.target} ({culprit.id})"
        if self.relation == "deadlock":
            key = culprit.target.rsplit("/", 1)[0]
            return (
                f"{self.asked.target} waits for a call that waits for {key}, which {who} itself holds: "
                "a deadlock, it can never finish. An exclusive handler must not call (and wait for) its own "
                "object: use ctx.object_send, or make the callee a shared handler.\n"
                f"To unblock: lab.cancel({culprit.id!r}) or lab.kill({culprit.id!r})."
            )
        if self.relation == "itself":
            head = f"{who} keeps failing"
        elif self.relation == "calls":
            head = f"{self.asked.target} is waiting for a call to {who}, which keeps failing"
        else:
            key = self.asked.target.rsplit("/", 1)[0]
            head = f"{self.asked.target} is waiting for its turn on {key}, held up by {who}, which keeps failing"
        paused = " It is paused: after the fix, lab.resume() it." if culprit.status == "paused" else ""
        return (
            f"{head}: {culprit.failure or 'no failure text'} (retry count {culprit.retry_count}).{paused}\n"
            "To unblock: fix the handler and lab.reload() (the next retry runs the new code), "
            f"or end it with lab.cancel({culprit.id!r}) (compensating code runs) or lab.kill({culprit.id!r})."
        )


def reports_failure(invocation: Invocation) -> bool:
    """Whether an invocation shows a failure of its own: retrying, paused, or running again after one."""
    return invocation.status in FAILING_STATUSES or (invocation.status == "running" and bool(invocation.last_failure))


def why_stuck(client: AdminIngressClient, invocation: Invocation) -> Stuck | None:
    """The failing invocation that keeps `invocation` from finishing, or None if nothing fails."""
    return _follow(client, invocation, invocation, ())


def _follow(client: AdminIngressClient, asked: Invocation, current: Invocation, chain: tuple[str, ...]) -> Stuck | None:
    """Follow `current` (on behalf of `asked`) through callees and key holders; `chain` is the way so far."""
    if reports_failure(current):
        return Stuck(asked, current, "itself" if current.id == asked.id else "calls")
    if len(chain) >= _MAX_DEPTH:
        return None
    chain = (*chain, current.id)
    if current.status in QUEUED_STATUSES:
        return _behind_the_key(client, asked, current, chain)
    if current.status in ("running", "suspended"):
        for entry in client.journal(current.id):
            if entry.callee_id and entry.entry_type == "Command: Call" and not entry.completed:
                callee = client.invocation(entry.callee_id)
                found = _follow(client, asked, callee, chain) if callee is not None else None
                if found is not None:
                    return found
    return None


def _behind_the_key(
    client: AdminIngressClient, asked: Invocation, queued: Invocation, chain: tuple[str, ...]
) -> Stuck | None:
    """Why the holder of the key `queued` waits for does not let go (a holder in `chain`: a deadlock)."""
    holder = _key_holder(client, queued)
    if holder is None:
        return None
    if holder.id in chain:
        return Stuck(asked, holder, "deadlock")
    found = _follow(client, holder, holder, chain)
    if found is None or found.relation == "deadlock":
        return found
    return Stuck(asked, found.culprit, "waits for the key")


def _key_holder(client: AdminIngressClient, queued: Invocation) -> Invocation | None:
    """The invocation holding the Virtual Object key `queued` waits for (None for services)."""
    parts = queued.target.split("/")
    if len(parts) != 3:  # Service/handler: no key to wait for
        return None
    service, key, _handler = parts
    holders = [
        inv
        for inv in client.invocations(target=f"{service}/{key}/", limit=50)
        if inv.id != queued.id and inv.status in HOLDING_STATUSES and inv.target.split("/")[1] == key
    ]
    return min(holders, key=lambda inv: inv.created_at or "", default=None)
