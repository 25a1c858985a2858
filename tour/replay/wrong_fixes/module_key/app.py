import restate

from tour.replay.wrong_fixes.module_key.checkout import checkout

app = restate.app(services=[checkout])
