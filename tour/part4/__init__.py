"""Checkpoint 4 (journaling actions): the payment and e-mails run as durable `ctx.run` steps."""
