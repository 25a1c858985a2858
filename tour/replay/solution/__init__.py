"""Solution: both random sources come from the context, so every replay sees the same values."""
