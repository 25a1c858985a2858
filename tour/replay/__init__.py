"""Determinism and replay: what a retry sees, what the journal keeps, and how replay breaks.

Serve it with ``lab.load("tour/replay")``. Every handler records what each attempt saw in
`tour.replay.switches`, so a notebook can put the attempts next to the journal.
"""
