"""Plausible but wrong fixes of the exercise, each wrong in its own way (the grader must reject them)."""
