"""Benchmark: a click on addTicket in the panels until every panel has redrawn.

One round: set a fresh seat, click ``addTicket`` in the invoke bar, wait until the bar has the
answer and the refresh round after it has redrawn every panel (journal, state, invocations,
timers, trace, outside events, faults). The live refresh loop is on, as in a notebook, so its
pokes (the lab's watcher fires on the send) would show here; a click should cost one round.

Run: ``.venv/bin/python bench/panel_refresh.py [--rounds 60]``; the last line is
``panel refresh p50 N ms``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from tourlab import Lab
from tourlab.panels import Dashboard


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(rounds: int, warmup: int = 5) -> tuple[list[float], list[int], list[int], list[int]]:
    """Milliseconds from click to every panel redrawn; the full refresh rounds until then; the full
    and the light rounds from the click until 0.6 s after its answer (light rounds draw the trace's
    spans, which arrive ~0.2 s after the answer, and the countdown of the pending expireTicket
    timers; a full round comes every 5 s for those timers)."""
    with Lab.start("tour/part4") as lab:
        board = Dashboard(lab)
        refresher = board.view.refresher
        try:
            samples: list[float] = []
            costs: list[int] = []
            own: list[int] = []  # rounds until the click's answer is shown (wait() returns)
            light: list[int] = []
            before: int | None = None
            light_before = 0
            for number in range(warmup + rounds + 1):
                if before is not None and number > warmup:  # the last click's rounds, up to this one
                    costs.append(refresher.rounds - before)
                    light.append(refresher.light_rounds - light_before)
                if number == warmup + rounds:
                    break
                board.invoke.user.value = f"user{number % 7}"
                board.invoke.seat.value = f"seat{number}"
                time.sleep(0.05)  # the user field's poke: its round is not the click's
                before, light_before = refresher.rounds, refresher.light_rounds
                began = time.perf_counter()
                board.invoke.buttons["addTicket"].click()
                status = board.invoke.wait(30)
                elapsed = (time.perf_counter() - began) * 1000
                assert status == "completed", status
                assert board.invoke.result is True, board.invoke.result
                assert all(panel.last_error is None for panel in board.panels)
                if number >= warmup:
                    samples.append(elapsed)
                    own.append(refresher.rounds - before)
                time.sleep(0.6)  # longer than the live loop's interval: its rounds after the click count too
            return samples, own, costs, light
        finally:
            board.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    samples, own, costs, light = measure(args.rounds)
    print(f"clicks {len(samples)}; full rounds until the answer is shown: {statistics.mean(own):.2f} (max {max(own)})")
    print(
        f"full rounds until 0.6 s later: {statistics.mean(costs):.2f} (max {max(costs)}), light rounds (late spans, "
        f"countdowns): {statistics.mean(light):.2f}"
    )
    print(f"p95 {_percentile(samples, 0.95):.1f} ms, max {max(samples):.1f} ms")
    print(f"panel refresh p50 {statistics.median(samples):.1f} ms")


if __name__ == "__main__":
    main()
