# WRONG: tests only the happy path: Mary gets her seat; nobody else ever asks for it
# expect: buggy_double_booking
async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, seat = new("Mary"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    assert await client.object_call(cart_tickets, key=mary, arg=None) == [seat]
