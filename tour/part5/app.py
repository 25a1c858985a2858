import restate

from tour.part5.cart_object import cart
from tour.part5.checkout_service import checkout_service
from tour.part5.checkout_workflow import checkout_workflow
from tour.part5.ticket_object import ticket

app = restate.app(services=[cart, checkout_service, checkout_workflow, ticket])
