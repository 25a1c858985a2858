# WRONG: tries to store the confirmation as state, which a shared handler cannot write
# base: tour/part5
# expect: this handler type cannot write state
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    ctx.set("payment", confirmation)
