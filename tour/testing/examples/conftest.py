"""Serve the shop named by SHOP_APP (default: the reference) on a real Restate for the whole session."""

import importlib
import os
from typing import Any

import pytest

from tour.testing.restate_fixture import restate_env  # noqa: F401 - the fixture the tests use

DEFAULT_APP = "tour.testing.shop.app"


@pytest.fixture(scope="session")
def restate_app() -> Any:
    return importlib.import_module(os.environ.get("SHOP_APP", DEFAULT_APP)).app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
