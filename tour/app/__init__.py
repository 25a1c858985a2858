"""The learner's starting point: every handler is a stub waiting to be written."""
