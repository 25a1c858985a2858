"""Shared fixtures: one real Restate server and endpoint per test process."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tourlab import Lab


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The lab of this test process: a real restate-server plus the Hypercorn endpoint."""
    running = Lab.start("tour/part1")
    yield running
    running.stop()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Make a name no other test uses, so tests never share Virtual Object keys."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make
