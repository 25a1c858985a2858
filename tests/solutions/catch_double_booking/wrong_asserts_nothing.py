# WRONG: runs the scenario but asserts nothing, so it passes against every shop
# expect: which puts a seat into a second cart although another cart holds it, every test passed
async def test_a_reserved_seat_cannot_go_into_another_cart(client: RestateClient):
    mary, john, seat = new("Mary"), new("John"), new("seat")
    await client.object_call(add_ticket, key=mary, arg=seat)
    await client.object_call(add_ticket, key=john, arg=seat)
