# WRONG: completes a promise with another name than the one run waits for
# base: tour/part5
# expect: completed the promise 'confirmation', but run waits for the promise 'payment'
# hint: found by its name
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    await ctx.promise("confirmation", type_hint=PaymentConfirmation).resolve(confirmation)
