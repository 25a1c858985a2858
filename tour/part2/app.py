import restate

from tour.part2.cart_object import cart
from tour.part2.checkout_service import checkout_service
from tour.part2.ticket_object import ticket

app = restate.app(services=[cart, checkout_service, ticket])
