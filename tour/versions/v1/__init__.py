"""Version 1: price the order, wait for the bank to settle, done."""
