import restate

from tour.replay.exercise.checkout import checkout

app = restate.app(services=[checkout])
