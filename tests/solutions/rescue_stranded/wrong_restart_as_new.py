# WRONG: kills it, restarts it from its journal: the work is done by another invocation, its caller gets "killed"
# expect: ended with an error ([409] killed)
# hint: a restart is another invocation with another id
import httpx

from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    spare = lab.deploy(old_code)
    lab.kill(invocation_id)
    lab.wait_for(invocation_id)
    restarted = httpx.patch(
        f"{lab.admin_url}/invocations/{invocation_id}/restart-as-new", params={"from": 1, "deployment": spare.id}
    )
    restarted.raise_for_status()
    lab.wait_for(restarted.json()["new_invocation_id"])
    lab.remove_deployment(spare.id)
