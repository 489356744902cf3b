"""The console's metrics page: the DORA figures of an application (or all) in an environment, with
a server-rendered SVG chart of deploys and failures per day; and, for admins, the audit log and
how far its chain was last verified. And the change timeline: what changed where, when."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import flask
import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth import roles
from shared.console.pages import blueprint, signed_in
from shared.deployments import metrics as dora
from shared.deployments import read_models
from shared.deployments import timeline as changes
from shared.deployments.matrix import environment_names
from shared.deployments.tables import deployments
from shared.platform.work import UnitOfWork

CHART_WIDTH, CHART_HEIGHT = 720, 160


def per_day(work: UnitOfWork, *, application: str | None, environment: str, days: int) -> list[dict[str, Any]]:
    """Finished deploys and failures (failed or later rolled back) per day of the window, oldest
    first, every day present: the chart's bars."""
    since = (work.now - timedelta(days=days - 1)).date()
    # One literal, not a bound parameter, so the GROUP BY is the same expression as the column.
    day = sa.func.date_trunc(sa.literal_column("'day'"), deployments.c.finished_at).label("day")
    query = (
        sa.select(
            day,
            sa.func.count().filter(deployments.c.status.in_(("succeeded", "rolled_back"))).label("deploys"),
            sa.func.count().filter(deployments.c.status.in_(("failed", "rolled_back"))).label("failures"),
        )
        .where(
            deployments.c.environment == environment,
            deployments.c.kind == "deploy",
            deployments.c.finished_at >= since,
            deployments.c.status.in_(("succeeded", "failed", "rolled_back")),
        )
        .group_by(day)
    )
    if application is not None:
        query = query.where(deployments.c.application == application)
    counted = {row.day.date(): row for row in work.conn.execute(query)}
    out = []
    for offset in range(days):
        date = since + timedelta(days=offset)
        row = counted.get(date)
        out.append({"date": date, "deploys": row.deploys if row else 0, "failures": row.failures if row else 0})
    return out


def bars(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each day's bars as SVG rectangles (x, width, heights), scaled to the busiest day."""
    top = max((d["deploys"] for d in series), default=0) or 1
    width = CHART_WIDTH / max(len(series), 1)
    shown = []
    for index, d in enumerate(series):
        height = round(d["deploys"] / top * (CHART_HEIGHT - 20), 1)
        failed = round(d["failures"] / top * (CHART_HEIGHT - 20), 1)
        shown.append(d | {"x": round(index * width, 1), "w": round(max(width - 2, 1), 1), "h": height, "fh": failed})
    return shown


@blueprint.get("/metrics")
def metrics_page() -> Any:
    """The DORA figures with their counts, a chart of deploys per day, and the audit log for admins."""
    me = signed_in()
    roles.require(me.principal.grants, "viewer")
    work = flask.g.work
    query = read_models.MetricsQuery.model_validate({k: v for k, v in flask.request.args.items() if v})
    figures = dora.metrics(work, application=query.application, environment=query.environment, days=query.days)
    series = bars(per_day(work, application=query.application, environment=query.environment, days=query.days))
    log = verified = None
    if roles.role_on(me.principal.grants) == "admin":  # an organisation-wide admin
        log, verified = audit.newest(work.conn, limit=50), audit.last_verified(work.conn)
    return flask.render_template(
        "metrics.html",
        m=figures,
        query=query,
        series=series,
        environments=environment_names(work.conn),
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        log=log,
        verified=verified,
    )


@blueprint.get("/timeline")
def timeline_page() -> Any:
    """What changed, across applications, newest first: a time window (UTC; the last 24 hours by
    default), by environment, application or team, a page at a time."""
    me = signed_in()
    roles.require(me.principal.grants, "viewer")
    work = flask.g.work
    given = {k: v for k, v in flask.request.args.items() if v}
    for end in ("from", "to"):  # a datetime-local field names no zone: the console's times are UTC
        if end in given and len(given[end]) <= len("2026-12-07T14:00:00"):
            given[end] += "+00:00"
    query = read_models.TimelineQuery.model_validate(given | {"limit": 50})
    entries, cursor = changes.timeline(work, query)
    kept = {k: v for k, v in flask.request.args.items() if k != "cursor" and v}  # the next page's filters
    return flask.render_template(
        "timeline.html",
        entries=entries,
        cursor=cursor,
        kept=kept,
        query=query,
        environments=environment_names(work.conn),
    )
