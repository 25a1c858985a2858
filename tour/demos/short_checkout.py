"""A checkout workflow with short settings, so that suspension and retention can be watched.

`inactivity_timeout` of one second: an invocation that waits that long without progress is
suspended (the default is one minute). `workflow_retention` of three seconds: that long after
`run` finished, Restate forgets the workflow id, its state, promises and result (the default
is one day), and the id can run again.
"""

from datetime import timedelta
from typing import TypedDict

import restate
from restate import WorkflowContext, WorkflowSharedContext

SUSPEND_AFTER = timedelta(seconds=1)
RETAIN_FOR = timedelta(seconds=3)

short_checkout = restate.Workflow("ShortCheckout", inactivity_timeout=SUSPEND_AFTER)


class Confirmation(TypedDict):
    payment_id: str
    amount: int


@short_checkout.main(workflow_retention=RETAIN_FOR)
async def run(ctx: WorkflowContext, note: str) -> str:
    """Wait for the promise `payment`, then answer with this run's note and the payment id."""
    ctx.set("note", note)
    confirmation = await ctx.promise("payment", type_hint=Confirmation).value()
    return f"{note}: paid with {confirmation['payment_id']}"


@short_checkout.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: Confirmation) -> None:
    """Complete the promise `run` waits for."""
    await ctx.promise("payment", type_hint=Confirmation).resolve(confirmation)
