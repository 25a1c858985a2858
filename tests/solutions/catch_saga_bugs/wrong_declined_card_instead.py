# WRONG: fails the booking before the charge (a declined card), so no refund is ever due and neither bug shows
# expect: buggy_refund_outside_the_journal
# hint: how much did the user get back
async def test_a_failure_after_the_charge_is_undone(client: RestateClient):
    cid, seats = new("Cid"), [new("seat"), new("seat")]
    payments.decline_cards_of(cid)
    with pytest.raises(HttpError):
        await client.service_call(book, arg={"user_id": cid, "tickets": seats})
    assert payments.amounts_refunded(cid) == []
    assert await seat_statuses(client, seats) == ["AVAILABLE", "AVAILABLE"]
