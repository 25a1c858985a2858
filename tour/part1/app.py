import restate

from tour.part1.cart_object import cart
from tour.part1.checkout_service import checkout_service
from tour.part1.ticket_object import ticket

app = restate.app(services=[cart, checkout_service, ticket])
