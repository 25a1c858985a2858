"""The replay chapter's services: SideEffects and Branching."""

import restate

from tour.replay.branching import branching
from tour.replay.side_effects import side_effects

app = restate.app(services=[side_effects, branching])
