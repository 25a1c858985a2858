import restate

from tour.part3.cart_object import cart
from tour.part3.checkout_service import checkout_service
from tour.part3.ticket_object import ticket

app = restate.app(services=[cart, checkout_service, ticket])
