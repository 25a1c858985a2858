# WRONG: tests the wrong thing: Mary keeps her seat, which is true in the buggy shop as well
# expect: buggy_double_booking
async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    await client.object_call(add_ticket, key=john, arg=seat)
    assert await client.object_call(cart_tickets, key=mary, arg=None) == [seat]
    assert await client.object_call(status, key=seat, arg=None) == "RESERVED"
