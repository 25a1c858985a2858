# WRONG: moves it without pausing it first: Restate refuses to change the deployment of a backing-off invocation
# expect: deployment id cannot be changed
# hint: only while it is paused
import httpx

from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    spare = lab.deploy(old_code)
    moved = httpx.patch(f"{lab.admin_url}/invocations/{invocation_id}/resume", params={"deployment": spare.id})
    moved.raise_for_status()
    lab.wait_for(invocation_id)
    lab.remove_deployment(spare.id)
