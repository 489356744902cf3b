"""Every test run: its own environment and cache key prefix; the plugins that give tests services and data.

Nothing here touches PostgreSQL or Redis. `tests/services.py` makes the database and the cache on
first use and `tests/factories.py` builds users, releases and deployments: a test reaches a server
only through their fixtures, or a folder conftest that makes `clean_state` autouse.
"""

from __future__ import annotations

import os

import pytest

# Before the import below, so that the plugins' asserts are rewritten like a test's.
pytest.register_assert_rewrite("tests.services", "tests.factories")

from tests.services import CHECKPOINTS, ROOT, RUN_ID, create_database, drop_database, reset_instance_state  # noqa: E402

__all__ = ["ROOT", "create_database", "drop_database", "reset_instance_state"]  # for `from tests.conftest import`

os.environ["ENVIRONMENT"] = "test"
os.environ.setdefault("LOG_LEVEL", "INFO")
os.environ["CACHE_PREFIX"] = f"rmtest-{RUN_ID}"
os.environ.pop("CLOUD_SQL_INSTANCE", None)
# The audit log's checkpoints: a file of this run's own (servers the tests start inherit it).
os.environ["AUDIT_CHECKPOINTS"] = f"file:{CHECKPOINTS}"
# A checkpoint after every commit, so a test sees each head anchored (the throttle has tests of its own).
os.environ["AUDIT_CHECKPOINT_INTERVAL"] = "0"


pytest_plugins = ("tests.services", "tests.factories")
