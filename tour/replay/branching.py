"""A branch decided outside the context: a replay may take the other branch and meet the wrong journal."""

import restate
from restate import Context, RunOptions

from tour.replay import switches

branching = restate.Service("Branching")

BASE_PRICE = 100


def discounted(price: int) -> int:
    """Half price for the lucky ones."""
    return price // 2


@branching.handler("listPrice")
async def list_price(ctx: Context, price: int) -> int:
    """The full price (another handler, so the unlucky branch makes a call)."""
    return price


async def _price(ctx: Context, lucky: bool) -> int:
    if lucky:
        return await ctx.run_typed("discount", discounted, RunOptions(type_hint=int), BASE_PRICE)
    return await ctx.service_call(list_price, arg=BASE_PRICE)


@branching.handler()
async def quote(ctx: Context) -> int:
    """BUG: the coin is tossed again on every attempt; a replay may take the other branch."""
    lucky = switches.coin()
    switches.record("quote", ctx.request().id, lucky=lucky)
    price = await _price(ctx, lucky)
    switches.maybe_fail("pricing")
    return price


@branching.handler("quoteSeeded")
async def quote_seeded(ctx: Context) -> int:
    """Fixed: ctx.random() is seeded by the invocation id, so every attempt draws the same."""
    lucky = ctx.random().random() < 0.5
    switches.record("quoteSeeded", ctx.request().id, lucky=lucky)
    price = await _price(ctx, lucky)
    switches.maybe_fail("pricing")
    return price


@branching.handler("quoteJournaled")
async def quote_journaled(ctx: Context) -> int:
    """Fixed: the coin toss is a run step; replays read its result from the journal."""
    lucky = await ctx.run_typed("coin", switches.coin, RunOptions(type_hint=bool))
    switches.record("quoteJournaled", ctx.request().id, lucky=lucky)
    price = await _price(ctx, lucky)
    switches.maybe_fail("pricing")
    return price
