"""The routes that read across deployments: the overview, the matrix, the timeline, a comparison
and the metrics."""

from typing import TYPE_CHECKING, Any

from shared import lazy
from shared.deployments.read_models import (
    CompareOut,
    CompareQuery,
    MatrixQuery,
    MatrixRowOut,
    MetricsOut,
    MetricsQuery,
    OverviewOut,
    OverviewQuery,
    TimelineEntryOut,
    TimelineQuery,
)
from shared.web import Call, Reply, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.deployments import compare, matrix, timeline
    from shared.deployments import metrics as dora
    from shared.deployments import overview as live
else:  # the services, loaded by the first request that calls them (shared.lazy)
    compare = lazy.module("shared.deployments.compare")
    matrix = lazy.module("shared.deployments.matrix")
    timeline = lazy.module("shared.deployments.timeline")
    dora = lazy.module("shared.deployments.metrics")
    live = lazy.module("shared.deployments.overview")

routes = RouteTable()

# -- overview and metrics ---------------------------------------------------------------------------


@routes.get("/overview", role="viewer", response=OverviewOut)
def overview(call: Call, query: OverviewQuery) -> dict[str, Any]:
    """Per environment: the live release, the one before it, and any deployment under way."""
    return live.overview(call.work, application=query.application)


@routes.get("/matrix", role="viewer", lists=True, response=MatrixRowOut)
def get_matrix(call: Call, query: MatrixQuery) -> Reply:
    """Applications by environments, a page of applications by name: in each cell the live release and
    the latest attempt where it is another one."""
    items, cursor = matrix.matrix(call.work, query)
    return listing(call, items, cursor)


@routes.get("/timeline", role="viewer", lists=True, response=TimelineEntryOut)
def change_timeline(call: Call, query: TimelineQuery) -> Reply:
    """Every deployment, rollback, lock, freeze and policy change in a time window, across
    applications, newest first."""
    items, cursor = timeline.timeline(call.work, query)
    return listing(call, items, cursor)


@routes.get("/compare", role="viewer", also_answers=(404,), response=CompareOut)
def what_changes(call: Call, query: CompareQuery) -> dict[str, Any]:
    """What changes between two releases of an application (`from`), or between what is live in an
    environment and a candidate (`environment`): the releases in between and the commit range."""
    return compare.compare(call.work.conn, query)


@routes.get("/metrics", role="viewer", response=MetricsOut)
def metrics(call: Call, query: MetricsQuery) -> dict[str, Any]:
    """DORA metrics over a window, with the counts behind each figure."""
    return dora.metrics(call.work, application=query.application, environment=query.environment, days=query.days)
