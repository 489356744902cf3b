"""The routes of teams and role bindings."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared import lazy
from shared.auth import schemas
from shared.auth.schemas import BindingOut, TeamDetailOut, TeamOut
from shared.pagination import PageQuery
from shared.web import Call, Reply, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.auth import bindings, teams
else:  # loaded by the first request that calls them (shared.lazy)
    bindings = lazy.module("shared.auth.bindings")
    teams = lazy.module("shared.auth.teams")

routes = RouteTable()


@routes.post("/teams", role="admin", status=201, also_answers=(409,), response=TeamDetailOut, location=True)
def create_team(call: Call, body: schemas.TeamIn) -> Reply:
    """A team: a named group of users that role bindings and approver stages refer to."""
    team = teams.create_team(call.work, body, call.principal)
    return Reply(body=team, headers={"Location": call.location(f"/teams/{team['name']}")})


@routes.get("/teams", role="viewer", lists=True, response=TeamOut)
def list_teams(call: Call, query: PageQuery) -> Reply:
    """Teams, by name."""
    return listing(call, *teams.list_teams(call.work, query))


@routes.get("/teams/<slug:name>", role="viewer", response=TeamDetailOut)
def get_team(call: Call, name: str) -> dict[str, Any]:
    """One team with its members."""
    return teams.get_team(call.work, name=name)


@routes.put("/teams/<slug:name>/members/<uuid:user_id>", role="admin", status=204)
def add_member(call: Call, name: str, user_id: UUID) -> None:
    """Add a user to a team (idempotent); it applies to their next request."""
    teams.set_membership(call.work, name, user_id, "add", call.principal)


@routes.delete("/teams/<slug:name>/members/<uuid:user_id>", role="admin", status=204)
def remove_member(call: Call, name: str, user_id: UUID) -> None:
    """Remove a user from a team (idempotent); it applies to their next request."""
    teams.set_membership(call.work, name, user_id, "remove", call.principal)


@routes.post("/bindings", role="admin", status=201, response=BindingOut)
def create_binding(call: Call, body: schemas.BindingIn) -> dict[str, Any]:
    """Grant a role to a user, team or service account on an application (or all) and some environments
    (or all): organisation-wide admins anywhere, an application's admins on it."""
    return bindings.create_binding(call.work, body, call.principal)


@routes.get("/bindings", role="viewer", lists=True, response=BindingOut)
def list_bindings(call: Call, query: schemas.BindingQuery) -> Reply:
    """Role bindings, oldest first, filtered by subject or application."""
    return listing(call, *bindings.list_bindings(call.work, query))


@routes.delete("/bindings/<uuid:binding_id>", role="admin", status=204)
def delete_binding(call: Call, binding_id: UUID) -> None:
    """Remove a role binding; it stops at the subject's next request."""
    bindings.delete_binding(call.work, binding_id, call.principal)
