# RIGHT: John cannot buy the seat Mary holds: his checkout fails and he is never charged
async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    await client.object_call(add_ticket, key=mary, arg=seat)
    await client.object_call(add_ticket, key=john, arg=seat)
    assert await client.object_call(checkout, key=john, arg=None) is False
    assert payments.amounts_charged(john) == []
