"""Benchmark: a click on addTicket in the panels until every panel has redrawn.

One round: set a fresh seat, click ``addTicket`` in the invoke bar, wait until the bar has the
answer and the refresh round after it has redrawn every panel (journal, state, invocations,
timers, trace, faults). The background refresh loop is off, so every round is the click's own.

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


def measure(rounds: int, warmup: int = 5) -> list[float]:
    """Milliseconds from click to every panel redrawn, per round."""
    with Lab.start("tour/part4") as lab:
        board = Dashboard(lab, live=False)
        try:
            samples = []
            for number in range(warmup + rounds):
                board.invoke.user.value = f"user{number % 7}"
                board.invoke.seat.value = f"seat{number}"
                began = time.perf_counter()
                board.invoke.buttons["addTicket"].click()
                status = board.invoke.wait(30)
                elapsed = (time.perf_counter() - began) * 1000
                assert status == "completed", status
                assert board.invoke.result is True, board.invoke.result
                assert all(panel.last_error is None for panel in board.panels)
                if number >= warmup:
                    samples.append(elapsed)
            return samples
        finally:
            board.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    samples = measure(args.rounds)
    print(f"rounds {len(samples)}")
    print(f"p95 {_percentile(samples, 0.95):.1f} ms, max {max(samples):.1f} ms")
    print(f"panel refresh p50 {statistics.median(samples):.1f} ms")


if __name__ == "__main__":
    main()
