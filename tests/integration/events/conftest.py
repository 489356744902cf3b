"""Events tests talk to receivers and stand-ins they start themselves: no database, no cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def starts_clean() -> None:
    """Nothing shared to clean: overrides the folder above's database and cache reset."""
