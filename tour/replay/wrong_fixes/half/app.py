import restate

from tour.replay.wrong_fixes.half.checkout import checkout

app = restate.app(services=[checkout])
