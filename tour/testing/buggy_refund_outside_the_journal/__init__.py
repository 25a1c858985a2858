"""Planted bug: the refund is paid in plain code, outside the journal, so every replay pays it again."""
