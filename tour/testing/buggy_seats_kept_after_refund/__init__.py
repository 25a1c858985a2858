"""Planted bug: once the card is charged, the undo list holds only the refund: a later failure keeps the seats."""
