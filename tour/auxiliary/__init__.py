"""Stand-ins for the outside world: a payment provider, an e-mail sender and settings."""
