"""Every console test uses the database and the cache: each starts from empty tables."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def starts_clean(clean_state: None) -> None:
    """Make the shared `clean_state` (tests/services.py) apply to each test in this folder."""


@pytest.fixture
def console(apps: dict[str, Any]) -> Any:
    """The console function as functions-framework loads it, with a browser's cookie jar."""
    return apps["console"].test_client()
