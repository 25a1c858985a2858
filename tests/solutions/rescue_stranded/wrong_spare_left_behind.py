# WRONG: rescues it but keeps the spare deployment: it stays the latest, so new checkouts run the old code
# expect: left 1 deployment(s) behind
# hint: remove it
import httpx

from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    spare = lab.deploy(old_code)
    httpx.patch(f"{lab.admin_url}/invocations/{invocation_id}/pause").raise_for_status()
    lab.wait_for(invocation_id, "paused")
    httpx.patch(f"{lab.admin_url}/invocations/{invocation_id}/resume", params={"deployment": spare.id})
    lab.wait_for(invocation_id)
