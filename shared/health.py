"""Health of the instance's dependencies, bounded in time even when one of them hangs."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal

import sqlalchemy as sa

from shared.cache import Cache, get_cache
from shared.db import get_engine
from shared.models import Out
from shared.settings import get_settings


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


def _database_check(engine: Callable[[], sa.Engine]) -> Callable[[], Any]:
    def check() -> None:
        with engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    return check


def _outcome(future: Future[float], deadline: float, *, down: str) -> dict[str, Any]:
    try:
        latency = future.result(timeout=max(0.0, deadline - time.monotonic()))
        return {"status": "ok", "latency_ms": latency}
    except FutureTimeout:
        return {"status": down, "latency_ms": None, "reason": "timeout"}
    except Exception:  # noqa: BLE001 - any failure of a probe means "down", not an error
        return {"status": down, "latency_ms": None, "reason": "unreachable"}


def check_dependencies(
    engine: Callable[[], sa.Engine], cache: Cache, *, timeout_s: float = CHECK_TIMEOUT_S
) -> dict[str, Any]:
    """Probe database and cache in parallel; the whole call takes at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    database = _pool.submit(_timed, _database_check(engine))
    checks = {}
    if cache.enabled:
        cached = _pool.submit(_timed, cache.ping)
        checks["cache"] = _outcome(cached, deadline, down="down")
    else:
        checks["cache"] = {"status": "disabled", "latency_ms": None}
    checks["database"] = _outcome(database, deadline, down="down")
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
    """The instance's health reporter over its own engine and cache."""
    return HealthReporter(lambda: check_dependencies(get_engine, get_cache()))
