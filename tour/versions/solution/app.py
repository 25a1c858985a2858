"""The workspace of chapter 12 with the exercise solved: v1's OrderService; rescue.py sits next to it."""

import restate

from tour.versions.v1.order_service import orders

app = restate.app(services=[orders])
