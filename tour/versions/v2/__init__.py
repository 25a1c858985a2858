"""Version 2: like v1, plus a loyalty discount step before the wait."""
