"""Every test here uses the database or the cache: each starts from empty tables and an empty cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def starts_clean(clean_state: None) -> None:
    """Make the shared `clean_state` (tests/services.py) apply to each test in this folder."""
