# WRONG: completes the promise with True instead of the provider's confirmation
# base: tour/part5
# expect: but the promise holds True
# hint: the argument confirmPayment got
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    await ctx.promise("payment").resolve(True)
