"""Each function loaded by functions-framework itself, as Cloud Functions loads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import functions_framework
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def apps() -> dict[str, Any]:
    return {
        name: functions_framework.create_app(name, str(ROOT / "functions" / name / "main.py"))
        for name in ("auth", "releases", "health")
    }


@pytest.fixture
def auth(apps: dict[str, Any]) -> Any:
    return apps["auth"].test_client()


@pytest.fixture
def releases(apps: dict[str, Any]) -> Any:
    return apps["releases"].test_client()


@pytest.fixture
def health(apps: dict[str, Any]) -> Any:
    return apps["health"].test_client()
