"""OrderService as a Virtual Object keyed by user: Restate refuses it as a new revision of the Service."""

import restate

from tour.versions.keyed.order_service import orders

app = restate.app(services=[orders])
