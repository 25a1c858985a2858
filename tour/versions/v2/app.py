"""Version 2 of the OrderService, served on a second endpoint next to v1."""

import restate

from tour.versions.v2.order_service import orders

app = restate.app(services=[orders])
