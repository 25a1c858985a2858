# WRONG: pauses and resumes by target, OrderService/checkout: that moves every stranded checkout, not only this one
# expect: The other stranded checkout, which rescue was not given, changed too
# hint: Act on the invocation id you were given only
from tourlab import Lab


def rescue(lab: Lab, invocation_id: str, old_code: str) -> None:
    spare = lab.deploy(old_code)
    lab.cli("invocations", "pause", "OrderService/checkout", "--yes")
    lab.wait_for(invocation_id, "paused")
    lab.cli("invocations", "resume", "OrderService/checkout", "--deployment", spare.id, "--yes")
    lab.wait_for(invocation_id)
