# WRONG: rejects the promise, so run's await raises a TerminalError
# base: tour/part5
# expect: After confirmPayment, run ended with an error
# hint: makes run's wait fail
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    await ctx.promise("payment").reject(f"payment {confirmation['payment_id']} confirmed")
