# RIGHT: looks at the promise first and completes it only if no confirmation came yet
# base: tour/part5
@checkout_workflow.handler("confirmPayment")
async def confirm_payment(ctx: WorkflowSharedContext, confirmation: PaymentConfirmation) -> None:
    payment = ctx.promise("payment")
    if await payment.peek() is None:
        await payment.resolve(confirmation)
