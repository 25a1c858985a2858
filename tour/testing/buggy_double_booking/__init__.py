"""Planted bug: addTicket puts a seat in the cart even when another cart holds its reservation."""
