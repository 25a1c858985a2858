"""Server settings that make replay visible."""

#: Suspend at every suspension point (ctx.run, ctx.sleep, awaiting a call), so every later step
#: replays the handler from the top: a non-determinism bug shows on the first call.
ALWAYS_REPLAY_ENV = {"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "0s"}

#: Kill an invocation at its first failure instead of retrying: the caller gets the error at once.
FAIL_FAST_ENV = {
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "1",
    "RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS": "kill",
}
