# RIGHT: the restate CLI instead of the admin API, resuming on "latest" (the spare deployment, while it exists)
from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    spare = lab.deploy(old_code)
    lab.cli("invocations", "pause", invocation_id, "--yes")
    lab.wait_for(invocation_id, "paused")
    lab.cli("invocations", "resume", invocation_id, "--deployment", "latest", "--yes")
    lab.wait_for(invocation_id)
    # The CLI refuses to remove the latest deployment of a service unless forced, drained or not.
    lab.cli("deployments", "remove", "--force", "--yes", spare.id)
