"""Checkpoint 5 (workflows): checkout as a workflow that waits durably for the payment provider."""
