# WRONG: only retries it: the deployment it is pinned to is still gone
# expect: the checkout is still stranded
# hint: runs only on the deployment it is pinned to
from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    lab.resume(invocation_id)
