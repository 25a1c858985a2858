"""Checkpoint 3 (state): the cart and the tickets keep their state in Restate."""
