"""Version 1 of the OrderService, served on its own endpoint."""

import restate

from tour.versions.v1.order_service import orders

app = restate.app(services=[orders])
