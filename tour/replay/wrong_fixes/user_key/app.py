import restate

from tour.replay.wrong_fixes.user_key.checkout import checkout

app = restate.app(services=[checkout])
