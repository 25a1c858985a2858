# WRONG: checks only addTicket's answer to John, which the buggy shop still gets right
# expect: buggy_double_booking
# hint: Look at what John ends up with
async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    assert await client.object_call(add_ticket, key=mary, arg=seat) is True
    assert await client.object_call(add_ticket, key=john, arg=seat) is False
