"""Chapter 12, versioning: rescue a checkout stranded by a force-deleted deployment.

The learner writes ``rescue(lab, invocation_id, old_code)`` in the workspace file ``rescue.py``
(reference: ``tour/versions/solution/rescue.py``): a repair is a few admin-API calls, not handler
code, so the check strands checkouts itself and calls that function.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tourlab import Lab, LabError, poll
from tourlab.course.exercises.hints import error_hint
from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import Probe, environment

TITLE = "rescue() gets a stranded checkout to finish on the code it started on"
SKELETON = """\
from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    # TODO: invocation_id is stranded: the deployment it is pinned to cannot run it any more.
    #   Make this same invocation finish with the answer of the code it started on (the folder
    #   old_code). Leave the rest as you found it: the code at the lab's endpoint, every other
    #   invocation, and where new invocations go. When rescue returns, the invocation has completed.
    ...
"""
HINTS = (
    (
        "An invocation runs only on the deployment it is pinned to, and that one is gone, so retrying cannot "
        "help. Restate can change the pin, but only while the invocation is paused, and only to a deployment "
        "that serves the code its journal was written by. Whatever you add for the rescue must go once nothing "
        "needs it."
    ),
    (
        "lab.deploy(old_code) serves the old code at a new URI as a new deployment (for now the latest). "
        "PATCH {lab.admin_url}/invocations/{id}/pause, then PATCH .../resume?deployment=<deployment id> (or "
        'lab.cli("invocations", "pause", id, "--yes") and lab.cli("invocations", "resume", id, "--deployment", '
        '<id>, "--yes")). lab.wait_for(id, "paused") and lab.wait_for(id) wait; lab.remove_deployment(<id>) '
        "removes a deployment nothing is pinned to."
    ),
    (
        'spare = lab.deploy(old_code); httpx.patch(f"{lab.admin_url}/invocations/{invocation_id}/pause")'
        '.raise_for_status(); lab.wait_for(invocation_id, "paused"); httpx.patch(f"{lab.admin_url}/invocations/'
        '{invocation_id}/resume", params={"deployment": spare.id}).raise_for_status(); lab.wait_for(invocation_id); '
        "lab.remove_deployment(spare.id)"
    ),
)

RESCUE_FILE = "rescue.py"
#: The code the stranded checkouts started on; the check passes it to the learner's rescue.
OLD_CODE = "tour/versions/v1"
OLD_RECEIPT = {"version": "v1", "total": 80}
#: Longer than OrderService's inactivity timeout (1 s), so a checkout suspends before its timer fires.
_SETTLE_SECONDS = "3"
_RESCUE_TIMEOUT = 45.0
_MISSING_DEPLOYMENT = "RT0011"
_MISMATCH = "RT0016"

Rescue = Callable[[Lab, str, str], object]


@dataclass(frozen=True)
class _Registry:
    ids: frozenset[str]
    latest: str | None


def _registry(lab: Lab) -> _Registry:
    found = lab.deployments()
    return _Registry(frozenset(d.id for d in found), next((d.id for d in found if d.latest), None))


def _row(lab: Lab, invocation_id: str) -> dict[str, Any]:
    rows = lab.query(
        "SELECT status, pinned_deployment_id, last_failure_error_code, completion_failure "
        f"FROM sys_invocation WHERE id = '{invocation_id}'"
    )
    return rows[0] if rows else {}


def _learner_rescue(p: Probe) -> Rescue:
    """The learner's ``rescue`` function, imported fresh from the workspace."""
    folder = p.lab.app_dir
    path = folder / RESCUE_FILE if folder is not None else None
    if path is None or not path.is_file():
        p.fail(
            f"Your workspace has no {RESCUE_FILE}: the exercise cell writes it.",
            f"Run the %%handler {RESCUE_FILE} cell of the exercise, then check again.",
        )
    spec = importlib.util.spec_from_file_location(f"rescue_check_{p.run}", path)
    loader = spec.loader if spec is not None else None
    if spec is None or loader is None:
        p.fail(f"Python cannot load {RESCUE_FILE}.")
    module = importlib.util.module_from_spec(spec)
    try:
        loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - the learner's module may raise anything at import
        text = f"{type(error).__name__}: {error} ({RESCUE_FILE})"
        p.fail(f"{RESCUE_FILE} does not load: {text}", error_hint(text) or "Fix that line of rescue.py.")
    found: Rescue | None = getattr(module, "rescue", None)
    if not callable(found):
        p.fail(
            f"{RESCUE_FILE} has no function rescue(lab, invocation_id, old_code).",
            "Keep the name and the parameters of the exercise cell: the check calls "
            "rescue(lab, invocation_id, old_code).",
        )
    return found


def _strand(p: Probe) -> tuple[str, str]:
    """Two checkouts pinned to a deployment of the old code, force-deleted under them: (one to rescue, a bystander)."""
    doomed = p.lab.deploy(OLD_CODE)
    order = {"user_id": p.key("customer"), "tickets": ["seat1", "seat2"]}
    checkouts = [p.lab.send("OrderService", None, "checkout", order) for _ in range(2)]
    p.sent.extend(checkouts)
    for checkout in checkouts:
        p.lab.wait_for(checkout, "suspended", timeout=10.0)
    deleted = httpx.delete(f"{p.lab.admin_url}/deployments/{doomed.id}", params={"force": "true"}, timeout=10.0)
    if not deleted.is_success:
        raise LabError(f"Restate did not force-delete the check's deployment ({deleted.status_code}): {deleted.text}")
    for checkout in checkouts:
        polled = poll(
            functools.partial(_row, p.lab, checkout),
            lambda row: row.get("last_failure_error_code") == _MISSING_DEPLOYMENT,
            timeout=15.0,
            interval=0.1,
        )
        if not polled.ok:
            raise LabError(f"A checkout the check stranded did not fail with {_MISSING_DEPLOYMENT}: {polled.value}")
    return checkouts[0], checkouts[1]


def _call(rescue: Rescue, lab: Lab, invocation_id: str) -> BaseException | None:
    """Run the learner's rescue with a time limit; the exception it raised, if any."""
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rescue-check")
    try:
        pool.submit(rescue, lab, invocation_id, OLD_CODE).result(timeout=_RESCUE_TIMEOUT)
    except concurrent.futures.TimeoutError:
        return TimeoutError(f"rescue did not return within {_RESCUE_TIMEOUT:g} s")
    except Exception as error:  # noqa: BLE001 - whatever the learner's code raised is the result
        return error
    finally:
        pool.shutdown(wait=False)
    return None


def _raised(p: Probe, error: BaseException) -> None:
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, httpx.HTTPStatusError):
        request, answer = error.request, error.response
        text = f"HTTP {answer.status_code} for {request.method} {request.url.path}: {answer.text.strip() or 'no body'}"
    if "deployment id cannot be changed" in text:
        hint = (
            "Restate moves an invocation to another deployment only while it is paused (or suspended); "
            "a stranded one is backing off, between two failing attempts."
        )
    elif "unfinished invocation(s) pinned" in text or "Draining" in text:
        hint = (
            "A deployment with an unfinished invocation pinned to it is not removed: that would strand it again. "
            "Remove what you added once the rescued checkout has finished."
        )
    elif "Deployment is still Active" in text:
        hint = (
            "The CLI does not remove the latest deployment of a service without --force, drained or not. Once "
            "nothing is pinned to it, removing it is safe: the service goes back to the deployment before it."
        )
    elif isinstance(error, TimeoutError):
        hint = (
            "Something in rescue waits for a status the invocation never reaches: which status does each step lead to?"
        )
    else:
        hint = error_hint(text) or "The message says which request or call failed: read it, then the first hint."
    p.fail(f"rescue(lab, invocation_id, old_code) raised {text}", hint)


def _judge_rescued(p: Probe, stranded: str) -> None:
    polled = poll(lambda: _row(p.lab, stranded), lambda row: row.get("status") == "completed", timeout=3.0)
    row = polled.value
    status, code = row.get("status"), row.get("last_failure_error_code")
    if status != "completed":
        if status == "paused":
            p.fail(
                "After rescue returned, the checkout is paused: nothing resumed it.",
                "A paused invocation waits until someone resumes it, and where it resumes is up to that request.",
            )
        if code == _MISSING_DEPLOYMENT:
            # The skeleton ends here: the exercise's first (conceptual) hint fits.
            p.fail(
                f"After rescue returned, the checkout is still stranded ({code}): it is pinned to a deployment "
                "that no longer exists."
            )
        if code == _MISMATCH:
            p.fail(
                f"After rescue returned, the checkout fails with a journal mismatch ({code}): it now runs on code "
                "that takes another path than its journal.",
                "Its journal was written by the code in old_code: only a deployment serving that code can replay it.",
            )
        p.fail(
            f"After rescue returned, the checkout is {status}, not completed.",
            "rescue is done when the stranded checkout has finished: wait for that before you return.",
        )
    if row.get("completion_failure"):
        p.fail(
            f"The checkout ended with an error ({row['completion_failure']}): its caller got that instead of a "
            "receipt.",
            "Rescue the invocation itself: killing it answers its caller with an error, and a restart is "
            "another invocation with another id, whose answer that caller never sees.",
        )
    receipt = p.lab.output(stranded)
    if receipt != OLD_RECEIPT:
        p.fail(
            f"The checkout completed with {receipt!r}, not the receipt of the code it started on ({OLD_RECEIPT!r}).",
            "Its journal was written by the code in old_code: finish it there.",
        )
    p.ok(f"the stranded checkout completed as itself (the same invocation id) with v1's receipt {OLD_RECEIPT!r}")


def _judge_leftovers(p: Probe, bystander: str, before: _Registry, serving: Path | None) -> None:
    other = _row(p.lab, bystander)
    untouched = other.get("status") in ("backing-off", "running")
    if not untouched or other.get("last_failure_error_code") != _MISSING_DEPLOYMENT:
        p.fail(
            f"The other stranded checkout, which rescue was not given, changed too (now {other.get('status')}).",
            "Act on the invocation id you were given only: a service name or target picks every invocation of it.",
        )
    p.ok("the other stranded checkout was left alone")
    if p.lab.app_dir != serving:
        p.fail(
            "rescue changed the code the lab's endpoint serves: every invocation pinned to that deployment now "
            "replays on other code (the same-URI reload of this chapter).",
            "Leave the existing deployments' code alone: the old code can run next to them, at its own URI.",
        )
    after = _registry(p.lab)
    added = sorted(after.ids - before.ids)
    if added:
        p.fail(
            f"rescue left {len(added)} deployment(s) behind that it added; the latest is now one of them, so new "
            "checkouts run the old code.",
            "Once the rescued checkout has finished, nothing is pinned to what you added: remove it, and the "
            "service goes back to the deployment that was the latest before.",
        )
    if after.latest != before.latest:
        p.fail(
            "After rescue, another deployment is the latest one: new checkouts no longer go where they went before.",
            "Leave the deployments as you found them: add only what the rescue needs, and remove it afterwards.",
        )
    p.ok("the deployments are as before rescue: new checkouts still go to the same latest deployment")


def _tidy(p: Probe, before: _Registry, serving: Path | None) -> None:
    """Undo what a wrong rescue left: deployments it added (once drained) and a changed lab endpoint."""
    with contextlib.suppress(LabError):
        for added in _registry(p.lab).ids - before.ids:
            with contextlib.suppress(LabError):
                p.lab.remove_deployment(added)
        if serving is not None and p.lab.app_dir != serving:
            p.lab.load(serving)


def check_rescue_stranded(p: Probe) -> None:
    """rescue(lab, invocation_id, old_code) gets a stranded checkout to finish (section 12).

    The check strands two OrderService checkouts (v1's code, force-deleted under them: RT0011),
    calls the learner's rescue with one of them and ``tour/versions/v1``, then: that checkout
    completed as the same invocation with v1's receipt; the other one was left alone; the lab's
    endpoint serves the same code; no deployment was added and the latest one is the same.
    """
    rescue = _learner_rescue(p)
    with environment(TOUR_SETTLE_SECONDS=_SETTLE_SECONDS):
        try:
            stranded, bystander = _strand(p)
        except LabError as unavailable:
            p.fail(f"The check could not strand a checkout to rescue: {unavailable}", "Run the check again.")
        p.ok("two checkouts are stranded: the deployment they are pinned to was force-deleted (RT0011)")
        before, serving = _registry(p.lab), p.lab.app_dir
        try:
            error = _call(rescue, p.lab, stranded)
            if error is not None:
                _raised(p, error)
            _judge_rescued(p, stranded)
            _judge_leftovers(p, bystander, before, serving)
        finally:
            _tidy(p, before, serving)


RESCUE_STRANDED = Exercise(
    id="rescue_stranded",
    section="12",
    title=TITLE,
    file=RESCUE_FILE,
    functions=("rescue",),
    start_from="tour/versions/v1",
    solution_from="tour/versions/solution",
    skeleton=SKELETON,
    hints=HINTS,
    check=check_rescue_stranded,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (RESCUE_STRANDED,)
