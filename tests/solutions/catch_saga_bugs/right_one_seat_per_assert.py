# RIGHT: one seat, the failure's status code, the refund counted and the seat read back
async def test_a_failure_after_the_charge_is_undone(client: RestateClient):
    dee, seat = new("Dee"), new("seat")
    mail.bounce_mails_of(dee)
    with pytest.raises(HttpError) as failure:
        await client.service_call(book, arg={"user_id": dee, "tickets": [seat]})
    assert failure.value.status_code == 422
    assert len(payments.amounts_refunded(dee)) == 1
    assert payments.amounts_charged(dee) == payments.amounts_refunded(dee)
    assert await client.object_call(status, key=seat, arg=None) == "AVAILABLE"
