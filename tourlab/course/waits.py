"""The waits a chapter's cells use: each shows a ✘ line with what it saw on time-out, never raises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tourlab import Invocation, poll

if TYPE_CHECKING:
    from tourlab import Lab


class Waits:
    """Mixed into ``Section``: waits on the lab's invocations, for cells that show what happens next."""

    lab: Lab

    def wait_for_retries(self, invocation_id: str, retries: int, *, timeout: float = 20.0) -> Invocation | None:
        """Wait until Restate has retried a failing invocation `retries` times and is backing off.

        On time-out a ✘ line says what Restate showed instead; the last state seen is returned.
        """
        polled = poll(
            lambda: self.lab.invocation(invocation_id),
            lambda seen: seen is not None and seen.retry_count >= retries and seen.status == "backing-off",
            timeout=timeout,
        )
        if not polled.ok:
            _missed(f"{invocation_id} was not retried {retries} times within {timeout:g} s", _seen(polled.value))
        return polled.value

    def wait_for_target(self, target: str, *statuses: str, timeout: float = 15.0) -> Invocation | None:
        """Wait until an invocation of `target` (``Svc/key/handler``) exists and reaches a status
        (default: completed). Useful for invocations that a handler started with a message.
        On time-out a ✘ line says what there was instead; the newest invocation seen is returned."""
        wanted = statuses or ("completed",)

        def found() -> list[Invocation]:
            return [i for i in self.lab.invocations(target=target, limit=100) if i.target == target]

        polled = poll(found, lambda seen: any(i.status in wanted for i in seen), timeout=timeout)
        reached = [i for i in polled.value if i.status in wanted]
        if reached:
            return reached[0]
        newest = polled.value[0] if polled.value else None
        _missed(f"No invocation of {target} reached {', '.join(wanted)} within {timeout:g} s", _seen(newest))
        return newest

    def wait_for_count(self, target: str, count: int, status: str, *, timeout: float = 10.0) -> list[Invocation]:
        """Wait until `count` invocations of `target` are in `status` (Restate's tables lag by a few ms).
        On time-out a ✘ line says how many there were; those are returned."""
        polled = poll(
            lambda: [i for i in self.lab.invocations(target=target, limit=100) if i.status == status],
            lambda found: len(found) >= count,
            timeout=timeout,
        )
        if not polled.ok:
            _missed(f"Only {len(polled.value)} invocation(s) of {target} are {status!r} after {timeout:g} s", None)
        return polled.value

    def wait_until_waiting(self, invocation_id: str, what: str, *, timeout: float = 10.0) -> str:
        """Wait until what an invocation waits for (``lab.waiting_for``'s words) mentions `what`,
        e.g. "promise 'payment'"; returns those words (on time-out, after a ✘ line, what it waits for)."""
        polled = poll(lambda: self.lab.waiting_for(invocation_id), lambda seen: what in (seen or ""), timeout=timeout)
        if not polled.ok or polled.value is None:
            seen = polled.value or _seen(self.lab.invocation(invocation_id))
            _missed(f"{invocation_id} was not waiting for {what} within {timeout:g} s", f"it waits for: {seen}")
        return polled.value or ""

    def wait_until_finished(self, invocation_id: str, timeout: float = 10.0) -> str:
        """Wait until an invocation completed or Restate dropped it; returns which of the two (or its status)."""
        polled = poll(
            lambda: self.lab.invocation(invocation_id),
            lambda seen: seen is None or seen.status == "completed",
            timeout=timeout,
        )
        return "dropped" if polled.value is None else polled.value.status


def _seen(invocation: Invocation | None) -> str:
    """What Restate showed of an invocation, in a few words."""
    if invocation is None:
        return "no such invocation"
    words = f"{invocation.target}: {invocation.status}"
    if invocation.retry_count:
        words += f", {invocation.retry_count} attempt(s)"
    failure = invocation.last_failure or invocation.completion_failure
    if failure:
        words += f", {failure.splitlines()[0][:200]}"
    return words


def _missed(what: str, seen: str | None) -> None:
    """A wait that timed out: one ✘ line, shown, so the rest of the notebook still runs."""
    print(f"✘ {what}" + (f" (seen: {seen})." if seen else "."))  # noqa: T201 - notebook output
