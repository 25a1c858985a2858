"""Rescue an invocation stranded on a deployment that can no longer run it (chapter 12's exercise)."""

import httpx

from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    """Finish `invocation_id` on the code it started on, then leave the deployments as they were."""
    spare = lab.deploy(old_code)  # a new URI: a new deployment, and for now the latest one
    invocation = f"{lab.admin_url}/invocations/{invocation_id}"
    # Restate changes the pinned deployment only while the invocation is paused or suspended:
    # a backing-off one answers 409.
    httpx.patch(f"{invocation}/pause").raise_for_status()
    lab.wait_for(invocation_id, "paused")
    httpx.patch(f"{invocation}/resume", params={"deployment": spare.id}).raise_for_status()
    lab.wait_for(invocation_id)
    # Drained now: removing it makes the deployment before it the latest again.
    lab.remove_deployment(spare.id)
