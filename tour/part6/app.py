import restate

from tour.part6.booking_service import booking_service
from tour.part6.cart_object import cart
from tour.part6.checkout_service import checkout_service
from tour.part6.checkout_workflow import checkout_workflow
from tour.part6.ticket_object import ticket

app = restate.app(services=[booking_service, cart, checkout_service, checkout_workflow, ticket])
