"""Values drawn outside the context change on every attempt; the journal keeps the first."""

import random
import time
import uuid
from typing import TypedDict

import restate
from restate import Context, RunOptions

from tour.replay import switches

side_effects = restate.Service("SideEffects")


class Values(TypedDict):
    random: float
    time: float
    uuid: str


class Draw(TypedDict):
    outside: Values
    kept: Values
    from_ctx: Values


def draw_values() -> Values:
    """Three values that differ on every call."""
    return {"random": random.random(), "time": time.time(), "uuid": str(uuid.uuid4())}


def keep(values: Values) -> Values:
    """A run step's result is what the journal stores: here, the values this attempt drew."""
    return values


@side_effects.handler()
async def draw(ctx: Context) -> Draw:
    # Outside the context: fresh values on every attempt.
    outside = draw_values()
    seen = switches.record("draw", ctx.request().id, outside=outside)
    # Through a run step: the first attempt stores its values; later attempts get them back.
    kept = seen["kept"] = await ctx.run_typed("remember", keep, RunOptions(type_hint=Values), outside)
    # The context's own helpers: seeded by the invocation id (random, uuid) or journaled (time).
    from_ctx: Values = {"random": ctx.random().random(), "time": await ctx.time(), "uuid": str(ctx.uuid())}
    seen["from_ctx"] = from_ctx
    switches.maybe_fail("the remember step")
    return {"outside": outside, "kept": kept, "from_ctx": from_ctx}
