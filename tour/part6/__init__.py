"""Checkpoint 6 (sagas): a booking that undoes its completed steps when a later one fails for good."""
