# WRONG: waits for the promise (run's part) instead of completing it
# base: tour/part5
# expect: waits for the promise 'payment' itself instead of completing it
# hint: confirmPayment completes it and returns at once
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    await ctx.promise("payment", type_hint=PaymentConfirmation).value()
