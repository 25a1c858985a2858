"""Chapter 13's reference: the shop, the conftest.py wiring and the tests a learner ends up with."""
