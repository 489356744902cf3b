"""Health of the instance's dependencies, bounded in time even when one of them hangs."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal

from shared.models import Out
from shared.platform import connections
from shared.platform.cache import Cache, get_cache
from shared.platform.settings import get_settings


class CheckOut(Out):
    status: Literal["ok", "down", "disabled"]
    latency_ms: float | None


class HealthChecksOut(Out):
    database: CheckOut
    cache: CheckOut


class HealthOut(Out):
    status: Literal["ok", "degraded", "unavailable"]
    version: str
    environment: str
    checks: HealthChecksOut


CHECK_TIMEOUT_S = 1.5
REUSE_FOR_S = 1.0

# Checks run here so a hung dependency holds a worker thread, never the request.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")


def _timed(check: Callable[[], Any]) -> float:
    started = time.perf_counter()
    check()
    return round((time.perf_counter() - started) * 1000, 2)


class DatabaseProbe:
    """`SELECT 1` on one connection of the probe's own, never the request pool, and no SQLAlchemy
    (it would cost health's cold start a third). The connection is opened on first use; if a kept
    one has died (a restart, a failover), one new connection is tried at once. A probe stuck on a
    hung database holds the lock, so the next one times out rather than piling up."""

    def __init__(self, connect: connections.Connect) -> None:
        self._connect = connect
        self._connection: Any = None
        self._lock = threading.Lock()

    def ping(self) -> None:
        with self._lock:
            if self._connection is not None:
                try:
                    return self._select_one()
                except Exception:  # noqa: BLE001 - a kept connection may be dead; try a new one
                    self._drop()
            self._connection = self._connect()
            self._connection.autocommit = True
            try:
                self._select_one()
            except Exception:
                self._drop()
                raise

    def _select_one(self) -> None:
        cursor = self._connection.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchall()
        cursor.close()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        with contextlib.suppress(Exception):  # it is already broken
            connection.close()


def _outcome(future: Future[float], deadline: float, *, down: str) -> dict[str, Any]:
    try:
        latency = future.result(timeout=max(0.0, deadline - time.monotonic()))
        return {"status": "ok", "latency_ms": latency}
    except FutureTimeout:
        return {"status": down, "latency_ms": None, "reason": "timeout"}
    except Exception:  # noqa: BLE001 - any failure of a probe means "down", not an error
        return {"status": down, "latency_ms": None, "reason": "unreachable"}


def check_dependencies(database: DatabaseProbe, cache: Cache, *, timeout_s: float = CHECK_TIMEOUT_S) -> dict[str, Any]:
    """Probe database and cache in parallel; the whole call takes at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    database_ping = _pool.submit(_timed, database.ping)
    checks = {}
    if cache.enabled:
        cached = _pool.submit(_timed, cache.ping)
        checks["cache"] = _outcome(cached, deadline, down="down")
    else:
        checks["cache"] = {"status": "disabled", "latency_ms": None}
    checks["database"] = _outcome(database_ping, deadline, down="down")
    if checks["database"]["status"] != "ok":
        status = "unavailable"
    elif checks["cache"]["status"] != "ok":
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checks": checks}


class HealthReporter:
    """Answers health from a result at most `reuse_for_s` old, so probes don't hammer dependencies."""

    def __init__(self, probe: Callable[[], dict[str, Any]], *, reuse_for_s: float = REUSE_FOR_S) -> None:
        self._probe = probe
        self._reuse_for_s = reuse_for_s
        self._last: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def report(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] >= self._reuse_for_s:
                self._last = (now, self._probe())
            result = self._last[1]
        settings = get_settings()
        return {"status": result["status"], "version": settings.app_version, "environment": settings.environment} | {
            "checks": result["checks"]
        }


@functools.cache
def get_reporter() -> HealthReporter:
    """The instance's health reporter over its own database connection and the cache."""
    connect = functools.cache(lambda: connections.connector(get_settings()))  # one Cloud SQL connector
    probe = DatabaseProbe(lambda: connect()())
    return HealthReporter(lambda: check_dependencies(probe, get_cache()))
