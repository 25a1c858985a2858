"""Checkpoint 7 (external events, concurrency, one shop): the cart's checkout runs the CheckoutWorkflow."""

import restate

from tour.part7.cart_object import cart
from tour.part7.checkout_workflow import checkout_workflow
from tour.part7.ticket_object import ticket

app = restate.app(services=[cart, checkout_workflow, ticket])
