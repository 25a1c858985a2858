"""Wrong: a key derived from the user is stable across replays, but a user's second order reuses it."""
