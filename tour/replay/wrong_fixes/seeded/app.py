import restate

from tour.replay.wrong_fixes.seeded.checkout import checkout

app = restate.app(services=[checkout])
