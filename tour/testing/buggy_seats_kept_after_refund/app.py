import restate

from tour.testing.buggy_seats_kept_after_refund.booking_service import booking_service
from tour.testing.shop.cart_object import cart
from tour.testing.shop.checkout_service import checkout_service
from tour.testing.shop.ticket_object import ticket

app = restate.app(services=[cart, checkout_service, ticket, booking_service])
