import restate

from tour.app.cart_object import cart
from tour.app.checkout_service import checkout_service
from tour.app.ticket_object import ticket

app = restate.app(services=[cart, checkout_service, ticket])
