# WRONG: checks that a refund of 80 was paid, not how many: the refund paid again at every replay passes
# expect: buggy_refund_outside_the_journal
# hint: how much did the user get back
async def test_a_failure_after_the_charge_is_undone(client: RestateClient):
    cid, seats = new("Cid"), [new("seat"), new("seat")]
    mail.bounce_mails_of(cid)
    with pytest.raises(HttpError):
        await client.service_call(book, arg={"user_id": cid, "tickets": seats})
    assert 80 in payments.amounts_refunded(cid)
    assert await seat_statuses(client, seats) == ["AVAILABLE", "AVAILABLE"]
