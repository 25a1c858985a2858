"""Chapter 11, determinism and replay: a checkout that takes the same path on every attempt."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tourlab import InvocationError, Lab, LabError
from tourlab._client import AdminIngressClient
from tourlab._runtimes import RuntimeChoice, create_runtime
from tourlab.course.exercises.hints import error_hint
from tourlab.course.exercises.model import Exercise
from tourlab.course.exercises.probe import (
    Probe,
)

#: How many orders the replay check places, from these users in turn.
REPLAY_ORDERS = 20
_REPLAY_USERS = ("Mary", "John", "Ann")
_TICKET_PRICE = 40


@contextlib.contextmanager
def replaying_restate(lab: Lab) -> Iterator[AdminIngressClient]:
    """A second, throwaway Restate serving the lab's endpoint, which replays the handler at every step.

    It suspends every invocation at each suspension point (``ctx.run``, a call, a sleep), so the
    handler runs again from the top after every step, and it ends an invocation at its first
    failure (no retries), so the caller gets Restate's error at once. The lab's own Restate is
    not touched: the check gives the same verdict in a normal lab and in an always-replay one.
    """
    # Embedded whatever the lab runs on: it reaches the endpoint from this host, and the lab image has the binary.
    loopback = RuntimeChoice("embedded", "127.0.0.1", "127.0.0.1", traced=False)
    server = create_runtime(loopback, always_replay=True, fail_fast=True)
    server.start()
    client = AdminIngressClient(server.admin_url, server.ingress_url, timeout=20)
    try:
        # Reach the endpoint where it listens (loopback, a Docker bridge, or every interface).
        host = lab.runtime.bind_host if lab.runtime.bind_host not in ("0.0.0.0", "::") else "127.0.0.1"
        client.register(f"http://{host}:{urlsplit(lab.endpoint_url).port}", force=False)
        yield client
    finally:
        client.close()
        server.stop()


@dataclass
class _Orders:
    """What the replay check's orders came back with."""

    receipts: list[tuple[int, dict[str, Any], Any]] = field(default_factory=list)
    mismatches: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def _place_orders(client: AdminIngressClient) -> _Orders:
    placed = _Orders()
    for number in range(REPLAY_ORDERS):
        order = {
            "user_id": _REPLAY_USERS[number % len(_REPLAY_USERS)],
            "tickets": [f"seat-{number}-{n}" for n in range(1 + number % 3)],
        }
        try:
            placed.receipts.append((number, order, client.call("DiscountCheckout", None, "handle", order)))
        except InvocationError as failed:
            if failed.status_code == 570 or "Found a mismatch" in str(failed):
                placed.mismatches.append(number)
            else:
                placed.errors.append((number, str(failed)))
    return placed


def check_deterministic_checkout(p: Probe) -> None:
    """DiscountCheckout/handle takes the same path on every attempt (section 11).

    Checked against a second Restate that replays the handler after every step and fails fast
    (``replaying_restate``), with 20 orders from three users: every order completes (no journal
    mismatch, no error); every receipt has its own payment key; the provider charged exactly that
    key with exactly the receipt's amount; every amount is the full price (40 a ticket) or 20 % off;
    both outcomes of the discount draw occur.
    """
    payments = importlib.import_module("tour.replay.payments")
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(replaying_restate(p.lab))
        except (LabError, OSError) as unavailable:
            p.fail(
                f"The check needs a second Restate, one that replays at every step, and could not start it: "
                f"{unavailable}",
                "Install the pinned restate-server (./course does) and check again.",
            )
        payments.reset()
        placed = _place_orders(client)
    _judge_orders(p, placed, dict(payments.ledger))


def _judge_orders(p: Probe, placed: _Orders, charged: dict[str, int]) -> None:
    if placed.errors:
        number, error = placed.errors[0]
        first = error.splitlines()[0]
        p.fail(f"Order {number} failed: {first}", error_hint(error))
    if placed.mismatches:
        p.fail(
            "Some orders failed with Restate's journal mismatch (HTTP 570, RT0016): when Restate replayed "
            "handle, it took another branch than on the attempt before, so the steps it asked for did not "
            "match the journal."
        )
    p.ok(f"all {REPLAY_ORDERS} orders completed while Restate replayed handle after every step")
    keys = [receipt.get("payment_key") if isinstance(receipt, dict) else None for _, _, receipt in placed.receipts]
    if len(set(keys)) < len(keys):
        p.fail(
            f"{len(keys)} orders got only {len(set(keys))} different payment keys. The provider charges a key "
            "once, so the orders with a repeated key were never paid for.",
            "A payment key must be the same on every attempt of one order, and different for every order.",
        )
    p.ok("every order has a payment key of its own")
    for number, order, receipt in placed.receipts:
        key, amount = receipt["payment_key"], receipt["amount"]
        if key not in charged:
            p.fail(
                f"The receipt of order {number} carries the payment key {key}, but the provider was never charged "
                "with that key: the payment step ran with another key, drawn by an earlier attempt.",
                "The key was made again when Restate replayed handle: a value made outside the context (a fresh "
                "id, a clock reading, a random number) differs on every attempt, while the payment step keeps "
                "the key of the attempt that ran it. Make the key so that every attempt of one order gets the "
                "same one.",
            )
        if charged[key] != amount:
            p.fail(
                f"The receipt of order {number} says {amount}, but the provider charged {charged[key]} for its key.",
                "The amount on the receipt and the amount charged must come from the same decision: one that is "
                "the same on every attempt of the order.",
            )
        full = len(order["tickets"]) * _TICKET_PRICE
        if amount not in (full, full * 8 // 10):
            p.fail(f"Order {number} ({len(order['tickets'])} tickets) cost {amount}: neither {full} nor 20 % off.")
    p.ok("the provider charged every receipt's key with the receipt's amount")
    discounted = {receipt["amount"] < len(order["tickets"]) * _TICKET_PRICE for _, order, receipt in placed.receipts}
    if len(discounted) < 2:
        p.fail(
            f"All {REPLAY_ORDERS} orders got the same discount decision: the draw is no longer random.",
            "The discount is a chance, not a rule: keep the draw, made so that it is the same on every "
            "attempt of one order.",
        )
    p.ok("some orders got the discount and some did not")


DETERMINISTIC_CHECKOUT = Exercise(
    id="deterministic_checkout",
    section="11",
    title="DiscountCheckout/handle takes the same path on every attempt",
    file="checkout.py",
    functions=("handle",),
    # The exercise's own starting code.
    start_from="tour/replay/exercise",
    solution_from="tour/replay/solution",
    skeleton="""\
import random
import uuid


@checkout.handler()
async def handle(ctx: Context, order: Order) -> Receipt:
    amount = len(order["tickets"]) * TICKET_PRICE
    # TODO: this handler is not deterministic. Find what changes from one attempt to the next
    #   and make it the same on every attempt of one order (and different between orders).
    payment_key = str(uuid.uuid4())
    if random.random() < DISCOUNT_CHANCE:
        amount = await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), amount)
    paid = await ctx.run_typed("payment", payments.charge, RunOptions(type_hint=bool), payment_key, amount)
    return {"paid": paid, "amount": amount, "payment_key": payment_key}
""",
    hints=(
        (
            "Every value made outside the context is made again on each replay: look for calls that give a "
            "new value each time they run, and for branches that depend on them."
        ),
        (
            "The context has versions seeded by the invocation id, the same on every attempt and different for "
            "every order: ctx.uuid() for an id, ctx.random() for a draw (a ctx.run_typed step that returns the "
            "value works too: its result is journaled)."
        ),
        "payment_key = str(ctx.uuid())  and  if ctx.random().random() < DISCOUNT_CHANCE: ...",
    ),
    check=check_deterministic_checkout,
)

#: This chapter's exercises, in the order its notebook has them.
DECLARED = (DETERMINISTIC_CHECKOUT,)
