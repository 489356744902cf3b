"""The test suite's own shape: the pure rules tests need no server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.servers import free_port
from tests.services import ROOT


@pytest.mark.timeout(300)
def test_the_pure_rules_tests_run_with_no_database_or_cache_reachable():
    closed = free_port()  # nothing listens there
    env = os.environ | {
        "CI": "true",  # no embedded PostgreSQL or fakeredis to fall back on
        "TEST_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed}/postgres",
        "TEST_REDIS_URL": f"redis://127.0.0.1:{closed}/0",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed}/postgres",
        "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
    }
    command = [sys.executable, "-m", "pytest", "tests/unit", "-p", "no:cacheprovider", "-o", "addopts=-q"]

    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=280, check=False)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert "database:" not in result.stdout and "cache:" not in result.stdout  # no service was even chosen
