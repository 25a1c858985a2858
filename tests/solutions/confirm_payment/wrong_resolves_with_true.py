# WRONG: completes the promise with True instead of the provider's confirmation
# base: tour/part5
# expect: but the promise holds True
# hint: resolve(confirmation)
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    await ctx.promise("payment").resolve(True)
