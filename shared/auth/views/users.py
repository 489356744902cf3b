"""The routes of accounts as admins see them: the list, changing one, and the access review."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared import lazy
from shared.auth import roles, schemas
from shared.auth.access_models import AccessOut, AccessQuery
from shared.auth.schemas import UserOut
from shared.pagination import PageQuery
from shared.web import Call, Reply, if_match, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.auth import access, service
else:  # loaded by the first request that calls them (shared.lazy)
    service = lazy.module("shared.auth.service")
    access = lazy.module("shared.auth.access")

routes = RouteTable()


@routes.get("/users", role="admin", lists=True, response=UserOut)
def list_users(call: Call, query: PageQuery) -> Reply:
    """Every account, a page at a time."""
    return listing(call, *service.list_users(call.work, query, call.principal))


@routes.patch("/users/<uuid:user_id>", role="admin", also_answers=(409, 412), response=UserOut)
def update_user(call: Call, body: schemas.UserPatch, user_id: UUID) -> dict[str, Any]:
    """Change a user's role, active flag or Identity-Aware Proxy link."""
    return service.update_user(call.work, user_id, body, call.principal, if_match=if_match(call.request))


@routes.get("/access", role="admin", also_answers=(404,), response=AccessOut)
def access_review(call: Call, query: AccessQuery) -> dict[str, Any]:
    """Who may deploy, approve and override an application in an environment, and through which
    role, binding or team (organisation-wide admins)."""
    roles.require(call.principal.grants, "admin")  # organisation-wide, not an application's admin
    # Imported here: the auth function's other routes need neither applications nor environments,
    # so its cold start does not load them.
    from shared.applications import service as applications
    from shared.deployments.environments import environment_row

    applications.load(call.work.conn, query.application)  # 404 application_not_found
    environment_row(call.work.conn, query.environment)  # 422 unknown_environment
    return {
        "application": query.application,
        "environment": query.environment,
        "items": access.who_may(call.work, query),
    }
