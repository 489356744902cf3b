"""The releases function: releases, environments, deployments, approvals, freezes, audit."""

from uuid import UUID

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared import catalog as service  # releases, with where each is deployed; applications, with their paths
from shared import etags
from shared.applications import schemas as application_schemas
from shared.applications.schemas import ApplicationOut
from shared.audit import service as audit
from shared.audit.schemas import AuditEventOut, VerifyOut
from shared.auth import roles
from shared.auth.guard import authenticate
from shared.catalog import ReleaseDetailOut
from shared.db import get_engine
from shared.deployments import approvals, environments, freezes, insights
from shared.deployments import rollback as rollbacks
from shared.deployments import schemas as deployment_schemas
from shared.deployments import service as deployments
from shared.deployments.schemas import (
    DecisionOut,
    DeploymentOut,
    EnvironmentOut,
    FreezeOut,
    MetricsOut,
    OverviewOut,
    PreflightOut,
)
from shared.pagination import PageQuery
from shared.releases import schemas
from shared.releases.schemas import ReleaseOut
from shared.web import Api, Call, Reply, if_match, listing

api = Api("releases", title="Release Manager: releases", authenticator=authenticate)


# -- releases -------------------------------------------------------------------------------------


@api.post(
    "/",
    role="developer",
    body=schemas.ReleaseIn,
    status=201,
    errors=(409,),
    response=ReleaseDetailOut,
    location=True,
)
def create_release(call: Call) -> Reply:
    """Record a release (a draft, or `ready` when the body says so)."""
    release = service.create_release(
        call.work, actor=call.principal.actor, grants=call.principal.grants, data=call.body.model_dump(mode="json")
    )
    return Reply(body=release, headers={"Location": api.location(call.request, f"/{release['id']}")})


@api.get("/", role="viewer", query=schemas.ReleaseQuery, lists=True, response=ReleaseOut)
def list_releases(call: Call) -> Reply:
    """Releases, newest first (`sort=-version`: by SemVer precedence), filtered."""
    found = service.list_releases(call.work, **call.query.model_dump())
    return listing(call, found["items"], found["next_cursor"])


@api.get(
    "/<uuid:release_id>",
    role="viewer",
    errors=(304,),
    prefetch=lambda path: [service.cache_key(path["release_id"])],
    response=ReleaseDetailOut,
)
def get_release(call: Call, release_id: UUID) -> dict:
    """One release with a deployment summary per environment."""
    return service.get_release(call.work, release_id=release_id)


@api.patch(
    "/<uuid:release_id>", role="developer", body=schemas.ReleasePatch, errors=(409, 412), response=ReleaseDetailOut
)
def update_release(call: Call, release_id: UUID) -> dict:
    """Edit a draft (honours If-Match)."""
    changes = call.body.model_dump(mode="json", exclude_unset=True)
    release = service.update_release(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        changes=changes,
        if_match=if_match(call.request),
    )
    return release


@api.delete("/<uuid:release_id>", role="developer", status=204, errors=(409, 412))
def delete_release(call: Call, release_id: UUID) -> None:
    """Delete a draft (honours If-Match)."""
    service.delete_release(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        if_match=if_match(call.request),
    )


@api.post("/<uuid:release_id>/finalize", role="developer", errors=(409, 412), response=ReleaseDetailOut)
def finalize_release(call: Call, release_id: UUID) -> dict:
    """Freeze a draft's content: it becomes `ready`, and deployable."""
    release = service.change_status(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        action="finalize",
        if_match=if_match(call.request),
    )
    return release


@api.post(
    "/<uuid:release_id>/cancel",
    role="developer",
    body=schemas.CancelIn,
    errors=(409, 412),
    response=ReleaseDetailOut,
)
def cancel_release(call: Call, release_id: UUID) -> dict:
    """Mark a release bad: never deployable again, never a rollback target."""
    release = service.change_status(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        action="cancel",
        reason=call.body.reason,
        if_match=if_match(call.request),
    )
    return release


@api.get("/<uuid:release_id>/events", role="viewer", query=PageQuery, lists=True, response=AuditEventOut)
def release_events(call: Call, release_id: UUID) -> Reply:
    """The release's audit timeline, oldest first."""
    items, cursor = service.release_events(
        call.work, release_id=release_id, limit=call.query.limit, cursor=call.query.cursor
    )
    return listing(call, items, cursor)


# -- environments -------------------------------------------------------------------------------


@api.get("/environments", role="viewer", query=PageQuery, lists=True, response=EnvironmentOut)
def list_environments(call: Call) -> Reply:
    """The promotion path, first stage first."""
    items, cursor = environments.list_environments(call.work, limit=call.query.limit, cursor=call.query.cursor)
    return listing(call, items, cursor)


@api.put(
    "/environments/<slug:name>",
    role="admin",
    body=deployment_schemas.EnvironmentIn,
    errors=(201, 409, 412),
    response=EnvironmentOut,
)
def put_environment(call: Call, name: str) -> Reply:
    """Create or change a stage: its position, required approvals and soak time."""
    found, created = environments.put_environment(
        call.work,
        name=name,
        actor=call.principal.actor,
        if_match=if_match(call.request),
        grants=call.principal.grants,
        **call.body.model_dump(),
    )
    return Reply(body=found, status=201 if created else 200)


# -- applications -------------------------------------------------------------------------------


@api.get("/applications", role="viewer", query=PageQuery, lists=True, response=ApplicationOut)
def list_applications(call: Call) -> Reply:
    """Applications by name, each with the promotion path its gates follow."""
    items, cursor = service.list_applications(call.work, limit=call.query.limit, cursor=call.query.cursor)
    return listing(call, items, cursor)


@api.get("/applications/<slug:name>", role="viewer", response=ApplicationOut)
def get_application(call: Call, name: str) -> Reply:
    """One application with its promotion path (with an ETag: it is keyed by name, not id)."""
    found = service.get_application(call.work, name=name)
    return Reply(body=found, etag=etags.etag(found))


@api.post(
    "/applications",
    role="admin",
    body=application_schemas.ApplicationIn,
    status=201,
    errors=(409,),
    response=ApplicationOut,
    location=True,
)
def create_application(call: Call) -> Reply:
    """Register an application, on its own promotion path or the default one."""
    found = service.create_application(
        call.work, grants=call.principal.grants, actor=call.principal.actor, **call.body.model_dump()
    )
    return Reply(body=found, headers={"Location": api.location(call.request, f"/applications/{found['name']}")})


@api.patch(
    "/applications/<slug:name>",
    role="admin",
    body=application_schemas.ApplicationPatch,
    errors=(412,),
    response=ApplicationOut,
)
def update_application(call: Call, name: str) -> Reply:
    """Change an application's names or promotion path (`path: null`: back to the default); honours If-Match."""
    found = service.update_application(
        call.work,
        name=name,
        grants=call.principal.grants,
        actor=call.principal.actor,
        changes=call.body.model_dump(exclude_unset=True),
        if_match=if_match(call.request),
    )
    return Reply(body=found, etag=etags.etag(found))


# -- deployments --------------------------------------------------------------------------------


@api.post(
    "/<uuid:release_id>/deployments",
    role="developer",
    body=deployment_schemas.DeploymentIn,
    status=201,
    errors=(409,),
    response=DeploymentOut,
    location=True,
)
def request_deployment(call: Call, release_id: UUID) -> Reply:
    """Deploy a ready release to an environment; every gate is checked, every failure reported."""
    deployment = deployments.request_deployment(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        **call.body.model_dump(),
    )
    location = api.location(call.request, f"/{release_id}/deployments/{deployment['id']}")
    return Reply(body=deployment, headers={"Location": location})


@api.post(
    "/<uuid:release_id>/deployments/preflight",
    role="viewer",
    body=deployment_schemas.PreflightIn,
    response=PreflightOut,
)
def preflight(call: Call, release_id: UUID) -> dict:
    """Every gate that would block a deployment now; nothing is written."""
    return deployments.preflight(call.work, release_id=release_id, environment=call.body.environment)


@api.get("/<uuid:release_id>/deployments", role="viewer", query=PageQuery, lists=True, response=DeploymentOut)
def release_deployments(call: Call, release_id: UUID) -> Reply:
    """This release's deployments, newest first."""
    deployments.ensure_release(call.work, release_id)
    items, cursor = deployments.list_deployments(
        call.work, release_id=release_id, limit=call.query.limit, cursor=call.query.cursor
    )
    return listing(call, items, cursor)


@api.get("/deployments", role="viewer", query=deployment_schemas.DeploymentQuery, lists=True, response=DeploymentOut)
def all_deployments(call: Call) -> Reply:
    """Deployments of every release, filtered."""
    items, cursor = deployments.list_deployments(call.work, **call.query.model_dump())
    return listing(call, items, cursor)


@api.get("/<uuid:release_id>/deployments/<uuid:deployment_id>", role="viewer", errors=(304,), response=DeploymentOut)
def get_deployment(call: Call, release_id: UUID, deployment_id: UUID) -> dict:
    """One deployment of this release, with its approvals."""
    return deployments.read_deployment(call.work, release_id=release_id, deployment_id=deployment_id)


@api.patch(
    "/<uuid:release_id>/deployments/<uuid:deployment_id>",
    role="developer",
    body=deployment_schemas.StatusIn,
    errors=(409, 412),
    response=DeploymentOut,
)
def report_status(call: Call, release_id: UUID, deployment_id: UUID) -> dict:
    """A pipeline's progress report: only forward moves."""
    return deployments.report_status(
        call.work,
        release_id=release_id,
        deployment_id=deployment_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        if_match=if_match(call.request),
        **call.body.model_dump(),
    )


@api.post(
    "/<uuid:release_id>/deployments/<uuid:deployment_id>/approvals",
    role="release_manager",
    body=deployment_schemas.ApprovalIn,
    status=201,
    errors=(409,),
    response=DecisionOut,
)
def decide(call: Call, release_id: UUID, deployment_id: UUID) -> dict:
    """Approve or reject a deployment waiting for approval."""
    return approvals.decide(
        call.work,
        release_id=release_id,
        deployment_id=deployment_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        teams=call.principal.teams,
        **call.body.model_dump(),
    )


@api.post(
    "/rollback",
    role="release_manager",
    body=deployment_schemas.RollbackIn,
    status=201,
    errors=(409,),
    response=DeploymentOut,
    location=True,
)
def rollback(call: Call) -> Reply:
    """Redeploy the last good release before the live one (no approvals; allowed in a freeze)."""
    deployment = rollbacks.rollback(
        call.work, actor=call.principal.actor, grants=call.principal.grants, **call.body.model_dump()
    )
    location = api.location(call.request, f"/{deployment['release_id']}/deployments/{deployment['id']}")
    return Reply(body=deployment, headers={"Location": location})


# -- freezes ------------------------------------------------------------------------------------


@api.get("/freezes", role="viewer", query=deployment_schemas.FreezeQuery, lists=True, response=FreezeOut)
def list_freezes(call: Call) -> Reply:
    """Freeze windows, each saying whether it is active now."""
    items, cursor = freezes.list_freezes(call.work, **call.query.model_dump())
    return listing(call, items, cursor)


@api.post("/freezes", role="release_manager", body=deployment_schemas.FreezeIn, status=201, response=FreezeOut)
def create_freeze(call: Call) -> dict:
    """A one-off or weekly freeze window, for one environment or all."""
    return freezes.create_freeze(
        call.work,
        actor=call.principal.actor,
        grants=call.principal.grants,
        data=call.body.model_dump(mode="json", exclude_none=True),
    )


@api.delete("/freezes/<uuid:freeze_id>", role="release_manager", status=204)
def delete_freeze(call: Call, freeze_id: UUID) -> None:
    """End a freeze window."""
    freezes.delete_freeze(call.work, freeze_id=freeze_id, actor=call.principal.actor, grants=call.principal.grants)


# -- overview and metrics -----------------------------------------------------------------------


@api.get("/overview", role="viewer", query=deployment_schemas.OverviewQuery, response=OverviewOut)
def overview(call: Call) -> dict:
    """Per environment: the live release, the one before it, and any deployment under way."""
    return insights.overview(call.work, application=call.query.application)


@api.get("/metrics", role="viewer", query=deployment_schemas.MetricsQuery, response=MetricsOut)
def metrics(call: Call) -> dict:
    """DORA metrics over a window, with the counts behind each figure."""
    return insights.metrics(call.work, **call.query.model_dump())


# -- audit ----------------------------------------------------------------------------------------


@api.get("/audit", role="admin", query=schemas.AuditQuery, lists=True, response=AuditEventOut)
def audit_log(call: Call) -> Reply | Response:
    """The whole audit log; `Accept: application/x-ndjson` streams every matching event."""
    roles.require(call.principal.grants, "admin")  # organisation-wide admins only
    filters = call.query.model_dump(exclude={"limit", "cursor"})
    if call.request.accept_mimetypes.best == "application/x-ndjson":
        lines = audit.export_lines(get_engine(), **filters)
        return Response(lines, mimetype="application/x-ndjson")
    items, cursor = audit.list_events(call.work.conn, limit=call.query.limit, cursor=call.query.cursor, **filters)
    return listing(call, items, cursor)


@api.get("/audit/verify", role="admin", response=VerifyOut)
def verify_audit(call: Call) -> dict:
    """Recompute the keyed hash chain and compare it with the checkpoints kept outside the database."""
    roles.require(call.principal.grants, "admin")
    return audit.verify_now(call.work.conn)


functions_framework.errorhandler(HTTPException)(api.framework_error)


@functions_framework.http
def releases(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
