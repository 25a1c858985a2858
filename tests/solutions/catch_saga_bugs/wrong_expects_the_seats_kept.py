# WRONG: expects the seats to stay reserved after the refund, which the correct saga does not do
# expect: fails against the reference shop
# hint: A test has to pass on correct code
async def test_a_failure_after_the_charge_is_undone(client: RestateClient):
    cid, seats = new("Cid"), [new("seat"), new("seat")]
    mail.bounce_mails_of(cid)
    with pytest.raises(HttpError):
        await client.service_call(book, arg={"user_id": cid, "tickets": seats})
    assert payments.amounts_refunded(cid) == [80]
    assert await seat_statuses(client, seats) == ["RESERVED", "RESERVED"]
