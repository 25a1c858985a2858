"""Checkpoint 1 (invoking handlers): request-response calls and one-way messages between handlers."""
