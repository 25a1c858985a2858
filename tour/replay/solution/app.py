import restate

from tour.replay.solution.checkout import checkout

app = restate.app(services=[checkout])
