"""GET /health as a user (or a load balancer) sees it."""

import socket
import time
from collections.abc import Iterator

import pytest
import redis

from shared import health as health_module
from shared.platform import connections
from shared.platform.cache import Cache, get_cache
from shared.platform.settings import get_settings, load_settings


def database(url: str | None = None, **settings) -> health_module.DatabaseProbe:
    """The health probe on the test database, or on `url`."""
    chosen = load_settings(database_url=url, **settings) if url else get_settings()
    return health_module.DatabaseProbe(connections.connector(chosen))


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung dependency."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


def use_reporter(monkeypatch, probe) -> None:
    reporter = health_module.HealthReporter(probe)
    monkeypatch.setattr(health_module, "get_reporter", lambda: reporter)


def test_health_reports_ok_with_latencies_when_database_and_cache_answer(health):
    response = health.get("/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["environment"] == "test"
    assert body["version"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert response.headers["Cache-Control"] == "no-store"


def test_health_reveals_no_hosts_or_dependency_versions(health):
    text = health.get("/health").get_data(as_text=True)

    assert "127.0.0.1" not in text and "localhost" not in text
    assert "PostgreSQL" not in text and "redis_version" not in text


def test_health_is_served_at_the_function_root_too(health):
    assert health.get("/").status_code == 200


def test_cache_down_is_200_degraded(health, monkeypatch):
    dead = Cache(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), prefix="x")
    use_reporter(monkeypatch, lambda: health_module.check_dependencies(database(), dead))

    response = health.get("/health")

    assert response.status_code == 200
    assert response.get_json()["status"] == "degraded"
    assert response.get_json()["checks"]["cache"]["status"] == "down"
    assert response.get_json()["checks"]["database"]["status"] == "ok"


def test_cache_not_configured_is_degraded():
    result = health_module.check_dependencies(database(), Cache(None))

    assert result["status"] == "degraded"
    assert result["checks"]["cache"]["status"] == "disabled"


def test_database_down_gives_503_unavailable_with_retry_after(health, monkeypatch):
    unreachable = database("postgresql://postgres@127.0.0.1:1/none", db_connect_timeout_s=1)
    use_reporter(monkeypatch, lambda: health_module.check_dependencies(unreachable, get_cache()))

    response = health.get("/health")

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json()["status"] == "unavailable"
    assert response.get_json()["checks"]["database"]["status"] == "down"


def test_health_answers_within_two_seconds_when_both_dependencies_hang(health, monkeypatch, silent_port):
    hung_db = database(f"postgresql://postgres@127.0.0.1:{silent_port}/x", db_connect_timeout_s=30)
    hung_cache = Cache(redis.Redis(host="127.0.0.1", port=silent_port, socket_timeout=30, socket_connect_timeout=30))
    use_reporter(monkeypatch, lambda: health_module.check_dependencies(hung_db, hung_cache))

    started = time.monotonic()
    response = health.get("/health")

    assert time.monotonic() - started < 2.0
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["reason"] == "timeout"
    assert response.get_json()["checks"]["cache"]["reason"] == "timeout"


def test_the_database_check_survives_its_connection_being_killed(health):
    import sqlalchemy as sa

    from shared.platform.db import transaction

    probe = database()
    probe.ping()
    with transaction() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND query = 'SELECT 1'"
            )
        ).all()
    assert killed  # the probe's idle connection was found and ended

    probe.ping()  # a new connection, at once: no false "unavailable" after a database restart
