"""Wrong: only the discount draw is journaled; the payment key still changes on every replay."""
