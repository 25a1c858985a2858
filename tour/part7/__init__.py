"""Checkpoint 7 (external events and concurrency): awakeables, a locked cart, parallel reservations."""
