import importlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import restate
from restate import RestateClient

from tour.testing.restate_fixture import RestateEnv, restate_env  # noqa: F401


@pytest.fixture(scope="session")
def restate_app() -> Any:
    # The app under test: app.py of this folder, unless SHOP_APP names another module.
    chosen = os.environ.get("SHOP_APP")
    if chosen:
        return importlib.import_module(chosen).app
    from .app import app

    return app


@pytest.fixture
async def client(restate_env: RestateEnv) -> AsyncIterator[RestateClient]:  # noqa: F811
    async with restate.create_client(restate_env.ingress_url) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
