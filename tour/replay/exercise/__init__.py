"""Exercise: this checkout is non-deterministic in two places. Find both and fix them."""
