"""The demo services, served next to the chapter's app with ``lab.deploy("tour/demos")``."""

import restate

from tour.demos.short_checkout import short_checkout

app = restate.app(services=[short_checkout])
