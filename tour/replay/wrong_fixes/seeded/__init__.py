"""Wrong: a constant seed makes the process repeatable, not each invocation: replays still draw anew."""
