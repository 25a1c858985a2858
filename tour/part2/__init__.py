"""Checkpoint 2 (scheduling): a reservation expires through a delayed call."""
