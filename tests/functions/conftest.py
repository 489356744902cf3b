"""Each function loaded by functions-framework itself, as Cloud Functions loads it."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def auth(apps: dict[str, Any]) -> Any:
    return apps["auth"].test_client()


@pytest.fixture
def releases(apps: dict[str, Any]) -> Any:
    return apps["releases"].test_client()


@pytest.fixture
def health(apps: dict[str, Any]) -> Any:
    return apps["health"].test_client()
