import restate

from tour.part4.cart_object import cart
from tour.part4.checkout_service import checkout_service
from tour.part4.ticket_object import ticket

app = restate.app(services=[cart, checkout_service, ticket])
