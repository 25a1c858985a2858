import restate

from tour.testing.buggy_refund_outside_the_journal.booking_service import booking_service
from tour.testing.shop.cart_object import cart
from tour.testing.shop.checkout_service import checkout_service
from tour.testing.shop.ticket_object import ticket

app = restate.app(services=[cart, checkout_service, ticket, booking_service])
