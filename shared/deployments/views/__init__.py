"""The routes of environments and their policies, deployments and approvals, rollbacks, freezes,
locks, the overview and metrics: one module per concern, served by the releases function in this
order."""

from shared.deployments.views import deployments, holds, insight
from shared.web.routes import RouteTable

routes = RouteTable()
for concern in (deployments, holds, insight):
    routes.include(concern.routes)
