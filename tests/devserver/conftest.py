"""One `python -m shared.devserver` (what `make dev` runs) for the tests of this folder, on a free
port, over this run's database (emptied before each test) and cache prefix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import DevServer


@pytest.fixture(autouse=True)
def starts_clean(clean_state: None) -> None:
    """Make the shared `clean_state` (tests/services.py) apply to each test in this folder."""


@pytest.fixture(scope="session")
def dev_server(services: dict[str, str]) -> Iterator[DevServer]:
    server = DevServer()
    yield server
    server.stop()
