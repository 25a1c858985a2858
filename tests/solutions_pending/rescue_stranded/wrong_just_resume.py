# WRONG: only retries it: the deployment it is pinned to is still gone
# base: tour/versions/v1
# expect: the checkout is still stranded
# hint: an invocation only ever runs on the deployment it is pinned to
from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    lab.resume(invocation_id)
