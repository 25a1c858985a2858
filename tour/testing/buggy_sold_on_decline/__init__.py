"""Planted bug: checkout sells the seats and empties the cart even when the payment is declined."""
