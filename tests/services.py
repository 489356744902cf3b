"""Test services: a real PostgreSQL and a real Redis, a fresh database per run, made on first use.

A pytest plugin (the root conftest registers it). None of its fixtures is autouse: a test that
needs no database never reaches one, so the pure rules tests in tests/unit run with no server at
all. The folders whose tests all use the services (functions, integration, faults, fuzz, load)
make `clean_state` autouse in their own conftest; elsewhere a test or fixture asks for it.

Where the services come from, in order: TEST_DATABASE_URL / TEST_REDIS_URL; the services this
machine runs (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379); else the embedded
PostgreSQL and the fakeredis stand-in. In CI (CI=true) the real services are mandatory.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
RUN_ID = uuid.uuid4().hex[:10]
"""This run's name: its database is rm_test_<RUN_ID>, its cache keys start with rmtest-<RUN_ID>."""
# The audit log's checkpoints of this run (the root conftest points AUDIT_CHECKPOINTS at it).
CHECKPOINTS = Path(tempfile.gettempdir()) / f"rm-audit-checkpoints-{RUN_ID}.jsonl"
LOCAL_POSTGRES = "postgresql+pg8000://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
SOURCES: dict[str, str] = {}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _admin_url() -> str:
    if url := os.environ.get("TEST_DATABASE_URL"):
        SOURCES["database"] = "TEST_DATABASE_URL"
        return url.replace("postgresql://", "postgresql+pg8000://", 1)
    if _reachable("127.0.0.1", 5432):
        SOURCES["database"] = "PostgreSQL on 127.0.0.1:5432"
        return LOCAL_POSTGRES
    if os.environ.get("CI") == "true":
        pytest.exit("CI needs the real PostgreSQL on 127.0.0.1:5432 (or TEST_DATABASE_URL); it is unreachable", 3)
    from shared import local

    SOURCES["database"] = "embedded PostgreSQL (no server found)"
    info = local.embedded_server().get_postmaster_info()
    return local.socket_url(str(info.socket_dir), info.port, "postgres")


def _redis_url() -> str:
    if url := os.environ.get("TEST_REDIS_URL"):
        SOURCES["cache"] = "TEST_REDIS_URL"
        return url
    if _reachable("127.0.0.1", 6379):
        SOURCES["cache"] = "Redis on 127.0.0.1:6379"
        return LOCAL_REDIS
    if os.environ.get("CI") == "true":
        pytest.exit("CI needs the real Redis on 127.0.0.1:6379 (or TEST_REDIS_URL); it is unreachable", 3)
    from shared import local

    SOURCES["cache"] = "fakeredis stand-in (no Redis found)"
    return local.start_fake_redis()


def with_database(url: str, name: str) -> str:
    return str(sa.make_url(url).set(database=name).render_as_string(hide_password=False))


def create_database(admin_url: str, name: str) -> str:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def reset_instance_state() -> None:
    """Forget every lazily built global, as a new function instance would."""
    from shared import health
    from shared.audit import checkpoints
    from shared.platform import cache, db, settings

    db.reset_engine()
    settings.get_settings.cache_clear()
    cache.get_cache.cache_clear()
    health.get_reporter.cache_clear()
    checkpoints.get_throttle.cache_clear()


@pytest.fixture(scope="session")
def admin_url() -> str:
    return _admin_url()


@pytest.fixture(scope="session")
def services(admin_url: str) -> Iterator[dict[str, str]]:
    """One database for this run, migrated to head, and a Redis key prefix of its own."""
    name = f"rm_test_{RUN_ID}"
    os.environ["DATABASE_URL"] = create_database(admin_url, name)
    os.environ["REDIS_URL"] = _redis_url()
    reset_instance_state()
    from shared.manage import migrate

    migrate()
    yield {"database_url": os.environ["DATABASE_URL"], "redis_url": os.environ["REDIS_URL"]}
    from shared.platform import db

    db.reset_engine()
    drop_database(admin_url, name)
    CHECKPOINTS.unlink(missing_ok=True)


@pytest.fixture
def clean_state(services: dict[str, str]) -> Iterator[None]:
    """Empty tables (but the default environments) and an empty cache namespace."""
    from shared.auth.ratelimit import get_limiter
    from shared.platform.cache import get_cache
    from shared.platform.db import get_engine
    from shared.schema import deployment_tables, metadata

    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with get_engine().begin() as conn:
        # Superuser only: lets the test reset the audit log, which the app itself can never do.
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(f"TRUNCATE {tables} CASCADE"))
        conn.execute(deployment_tables.environments.insert(), deployment_tables.DEFAULT_ENVIRONMENTS)
    CHECKPOINTS.write_text("")  # the emptied log has no head to anchor
    cache = get_cache()
    cache._down_until = 0.0
    client = cache.client
    if client is not None:
        keys = list(client.scan_iter(match=f"{cache.prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    get_limiter.cache_clear()
    yield


@pytest.fixture(scope="session")
def dev_server(services: dict[str, str]) -> Iterator[Any]:
    """One `python -m shared.devserver` (what `make dev` runs) for the whole run, on a free port, over
    this run's database and cache prefix: the dev server, relman and console tests share it."""
    from tests.servers import DevServer

    server = DevServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def apps(services: dict[str, str]) -> dict[str, Any]:
    """Each function loaded by functions-framework itself, as Cloud Functions loads it."""
    import functions_framework

    return {
        name: functions_framework.create_app(name, str(ROOT / "functions" / name / "main.py"))
        for name in ("auth", "releases", "health", "console")
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


def pytest_report_header(config: Any) -> str:
    return "services: database and cache are chosen when a test first needs them (see summary)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for kind, source in SOURCES.items():
        terminalreporter.write_line(f"{kind}: {source}")
