"""Scale: p50 of each list query through the service at two table sizes, and whether it uses an index."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from bench import stats
from bench.data import COMMON_TERM, RARE_TERM

SCALE_QUERIES: dict[str, dict[str, Any]] = {
    "list (newest first)": {},
    f"search, specific term (q={RARE_TERM})": {"q": RARE_TERM},
    f"search, common term in 1% (q={COMMON_TERM})": {"q": COMMON_TERM},
    "sorted by SemVer (sort=-version)": {"sort": "-version"},
    "one application by SemVer": {"application": "app-0042", "sort": "-version"},
    # The change timeline over the data's newest day (the audit log holds one event per deployment):
    # at either size a day of deployments, so the page should not grow with the table.
    "timeline, the newest day (50 newest)": {"timeline": True},
}
# Not like for like, so shown without a target: one application has 1 release at 1,000 and 50 (a
# full page) at 100,000, so the page itself grows fiftyfold.
INFORMATIONAL = {"one application by SemVer"}


def _query(params: dict[str, Any]) -> Any:
    """The call a scale query makes, in a unit of work without the cache."""
    from shared import catalog as service

    if not params.get("timeline"):
        return lambda work: service.list_releases(work, limit=50, **params)
    import sqlalchemy as sa

    from shared.deployments.read_models import TimelineQuery
    from shared.deployments.tables import deployments
    from shared.deployments.timeline import timeline
    from shared.platform.db import get_engine

    with get_engine().connect() as conn:
        newest = conn.scalar(sa.select(sa.func.max(deployments.c.finished_at)))
    start, end = newest - timedelta(days=1), newest + timedelta(seconds=1)
    window = TimelineQuery.model_validate({"from": start.isoformat(), "to": end.isoformat(), "limit": 50})
    return lambda work: timeline(work, window)


def scale_point(repeats: int) -> dict[str, Any]:
    """p50 of each list query through the service with the cache disabled, and its EXPLAIN plan."""
    import sqlalchemy as sa

    from shared.platform.cache import Cache
    from shared.platform.db import get_engine
    from shared.platform.work import unit_of_work

    no_cache = Cache(None)
    out: dict[str, Any] = {}
    for name, params in SCALE_QUERIES.items():
        captured: list[tuple[str, Any]] = []
        run = _query(params)

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            captured.append((statement, parameters))  # noqa: B023 - read right after this iteration's call

        sa.event.listen(get_engine(), "before_cursor_execute", capture)
        with unit_of_work(cache=no_cache) as work:
            run(work)
        sa.event.remove(get_engine(), "before_cursor_execute", capture)
        table = "FROM audit_events" if params.get("timeline") else "FROM releases"
        statement, parameters = next((s, p) for s, p in captured if table in s)
        with get_engine().connect() as conn:
            plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            with unit_of_work(cache=no_cache) as work:
                run(work)
            timings.append(time.perf_counter() - started)
        uses_index = any("Index" in line for line in plan)
        out[name] = {"p50_ms": round(stats.median(timings) * 1000, 3), "plan": plan, "uses_index": uses_index}
    return out
