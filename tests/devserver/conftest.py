"""The tests of `make dev`: each starts from empty tables; `dev_server` (tests/services.py) is the
run's one dev server, over this run's database and cache prefix."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def starts_clean(clean_state: None) -> None:
    """Make the shared `clean_state` (tests/services.py) apply to each test in this folder."""
