# WRONG: checks the refund but not the seats, so a saga that forgets them after the charge passes
# expect: buggy_seats_kept_after_refund
# hint: whichever step failed
async def test_a_failure_after_the_charge_is_undone(client: RestateClient):
    cid, seats = new("Cid"), [new("seat"), new("seat")]
    mail.bounce_mails_of(cid)
    with pytest.raises(HttpError):
        await client.service_call(book, arg={"user_id": cid, "tickets": seats})
    assert payments.amounts_refunded(cid) == [80]
