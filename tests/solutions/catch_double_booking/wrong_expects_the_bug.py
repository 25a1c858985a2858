# WRONG: writes down what the buggy shop does (John gets the seat too), so it fails on the correct shop
# expect: test_a_reserved_seat_cannot_go_into_another_cart fails against the reference shop (tour.testing.shop.app)
# hint: A test has to pass on correct code
async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    await client.object_call(add_ticket, key=john, arg=seat)
    assert await client.object_call(cart_tickets, key=john, arg=None) == [seat]
