"""The releases function: releases, environments, deployments, approvals, freezes, audit."""

from typing import Any
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
    PolicyOut,
    PreflightOut,
)
from shared.events import dispatch
from shared.pagination import PageQuery
from shared.platform.db import get_engine
from shared.platform.settings import get_settings
from shared.releases import schemas
from shared.releases.schemas import ReleaseOut
from shared.subscriptions import schemas as event_schemas
from shared.subscriptions import service as subscriptions
from shared.subscriptions.schemas import DeliveryOut, DispatchOut, SubscriptionCreatedOut, SubscriptionOut
from shared.web import Api, Call, Reply, if_match, listing

api = Api("releases", title="Release Manager: releases", authenticator=authenticate)


# -- releases -------------------------------------------------------------------------------------


@api.post(
    "/",
    role="developer",
    status=201,
    also_answers=(409,),
    response=ReleaseDetailOut,
    location=True,
)
def create_release(call: Call, body: schemas.ReleaseIn) -> Reply:
    """Record a release (a draft, or `ready` when the body says so)."""
    release = service.create_release(
        call.work, actor=call.principal.actor, grants=call.principal.grants, data=body.model_dump(mode="json")
    )
    return Reply(body=release, headers={"Location": call.location(f"/{release['id']}")})


@api.get("/", role="viewer", lists=True, response=ReleaseOut)
def list_releases(call: Call, query: schemas.ReleaseQuery) -> Reply:
    """Releases, newest first (`sort=-version`: by SemVer precedence), filtered."""
    found = service.list_releases(
        call.work,
        limit=query.limit,
        cursor=query.cursor,
        application=query.application,
        status=query.status,
        environment=query.environment,
        q=query.q,
        sort=query.sort,
    )
    return listing(call, found["items"], found["next_cursor"])


@api.get(
    "/<uuid:release_id>",
    role="viewer",
    also_answers=(304,),
    prefetch=lambda path: [service.cache_key(path["release_id"])],
    response=ReleaseDetailOut,
)
def get_release(call: Call, release_id: UUID) -> dict[str, Any]:
    """One release with a deployment summary per environment."""
    return service.get_release(call.work, release_id=release_id)


@api.patch("/<uuid:release_id>", role="developer", also_answers=(409, 412), response=ReleaseDetailOut)
def update_release(call: Call, body: schemas.ReleasePatch, release_id: UUID) -> dict[str, Any]:
    """Edit a draft (honours If-Match)."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    release = service.update_release(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        changes=changes,
        if_match=if_match(call.request),
    )
    return release


@api.delete("/<uuid:release_id>", role="developer", status=204, also_answers=(409, 412))
def delete_release(call: Call, release_id: UUID) -> None:
    """Delete a draft (honours If-Match)."""
    service.delete_release(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        if_match=if_match(call.request),
    )


@api.post("/<uuid:release_id>/finalize", role="developer", also_answers=(409, 412), response=ReleaseDetailOut)
def finalize_release(call: Call, release_id: UUID) -> dict[str, Any]:
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
    also_answers=(409, 412),
    response=ReleaseDetailOut,
)
def cancel_release(call: Call, body: schemas.CancelIn, release_id: UUID) -> dict[str, Any]:
    """Mark a release bad: never deployable again, never a rollback target."""
    release = service.change_status(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        action="cancel",
        reason=body.reason,
        if_match=if_match(call.request),
    )
    return release


@api.get("/<uuid:release_id>/events", role="viewer", lists=True, response=AuditEventOut)
def release_events(call: Call, query: PageQuery, release_id: UUID) -> Reply:
    """The release's audit timeline, oldest first."""
    items, cursor = service.release_events(call.work, release_id=release_id, limit=query.limit, cursor=query.cursor)
    return listing(call, items, cursor)


# -- environments -------------------------------------------------------------------------------


@api.get("/environments", role="viewer", lists=True, response=EnvironmentOut)
def list_environments(call: Call, query: PageQuery) -> Reply:
    """The promotion path, first stage first."""
    items, cursor = environments.list_environments(call.work, limit=query.limit, cursor=query.cursor)
    return listing(call, items, cursor)


@api.put(
    "/environments/<slug:name>",
    role="admin",
    also_answers=(201, 409, 412),
    response=EnvironmentOut,
)
def put_environment(call: Call, body: deployment_schemas.EnvironmentIn, name: str) -> Reply:
    """Create or change a stage: its position, required approvals and soak time."""
    found, created = environments.put_environment(
        call.work,
        name=name,
        actor=call.principal.actor,
        if_match=if_match(call.request),
        grants=call.principal.grants,
        position=body.position,
        required_approvals=body.required_approvals,
        soak_minutes=body.soak_minutes,
    )
    return Reply(body=found, status=201 if created else 200)


@api.get("/environments/<slug:name>/policy", role="viewer", response=PolicyOut)
def get_policy(call: Call, name: str) -> Reply:
    """An environment's policy: the floor every application's stage there is held to (with an ETag)."""
    found = environments.get_policy(call.work, name=name)
    return Reply(body=found, etag=etags.etag(found))


@api.put("/environments/<slug:name>/policy", role="admin", also_answers=(412,), response=PolicyOut)
def put_policy(call: Call, body: deployment_schemas.PolicyIn, name: str) -> Reply:
    """Replace an environment's policy (organisation-wide admins); honours If-Match."""
    found = environments.put_policy(
        call.work,
        name=name,
        policy=body,
        actor=call.principal.actor,
        grants=call.principal.grants,
        if_match=if_match(call.request),
    )
    return Reply(body=found, etag=etags.etag(found))


# -- applications -------------------------------------------------------------------------------


@api.get("/applications", role="viewer", lists=True, response=ApplicationOut)
def list_applications(call: Call, query: PageQuery) -> Reply:
    """Applications by name, each with the promotion path its gates follow."""
    items, cursor = service.list_applications(call.work, limit=query.limit, cursor=query.cursor)
    return listing(call, items, cursor)


@api.get("/applications/<slug:name>", role="viewer", response=ApplicationOut)
def get_application(call: Call, name: str) -> Reply:
    """One application with its promotion path (with an ETag: it is keyed by name, not id)."""
    found = service.get_application(call.work, name=name)
    return Reply(body=found, etag=etags.etag(found))


@api.post(
    "/applications",
    role="admin",
    status=201,
    also_answers=(409,),
    response=ApplicationOut,
    location=True,
)
def create_application(call: Call, body: application_schemas.ApplicationIn) -> Reply:
    """Register an application, on its own promotion path or the default one."""
    found = service.create_application(
        call.work,
        grants=call.principal.grants,
        actor=call.principal.actor,
        application=body,
    )
    return Reply(body=found, headers={"Location": call.location(f"/applications/{found['name']}")})


@api.patch(
    "/applications/<slug:name>",
    role="admin",
    also_answers=(412,),
    response=ApplicationOut,
)
def update_application(call: Call, body: application_schemas.ApplicationPatch, name: str) -> Reply:
    """Change an application's names or promotion path (`path: null`: back to the default); honours If-Match."""
    found = service.update_application(
        call.work,
        name=name,
        grants=call.principal.grants,
        actor=call.principal.actor,
        patch=body,
        if_match=if_match(call.request),
    )
    return Reply(body=found, etag=etags.etag(found))


# -- deployments --------------------------------------------------------------------------------


@api.post(
    "/<uuid:release_id>/deployments",
    role="developer",
    status=201,
    also_answers=(409,),
    response=DeploymentOut,
    location=True,
)
def request_deployment(call: Call, body: deployment_schemas.DeploymentIn, release_id: UUID) -> Reply:
    """Deploy a ready release to an environment; every gate is checked, every failure reported."""
    deployment = deployments.request_deployment(
        call.work,
        release_id=release_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        environment=body.environment,
        override_freeze=body.override_freeze,
        reason=body.reason,
    )
    location = call.location(f"/{release_id}/deployments/{deployment['id']}")
    return Reply(body=deployment, headers={"Location": location})


@api.post(
    "/<uuid:release_id>/deployments/preflight",
    role="viewer",
    response=PreflightOut,
)
def preflight(call: Call, body: deployment_schemas.PreflightIn, release_id: UUID) -> dict[str, Any]:
    """Every gate that would block a deployment now; nothing is written."""
    return deployments.preflight(call.work, release_id=release_id, environment=body.environment)


@api.get("/<uuid:release_id>/deployments", role="viewer", lists=True, response=DeploymentOut)
def release_deployments(call: Call, query: PageQuery, release_id: UUID) -> Reply:
    """This release's deployments, newest first."""
    deployments.ensure_release(call.work, release_id)
    items, cursor = deployments.list_deployments(
        call.work, release_id=release_id, limit=query.limit, cursor=query.cursor
    )
    return listing(call, items, cursor)


@api.get("/deployments", role="viewer", lists=True, response=DeploymentOut)
def all_deployments(call: Call, query: deployment_schemas.DeploymentQuery) -> Reply:
    """Deployments of every release, filtered."""
    items, cursor = deployments.list_deployments(
        call.work,
        limit=query.limit,
        cursor=query.cursor,
        application=query.application,
        environment=query.environment,
        status=query.status,
    )
    return listing(call, items, cursor)


@api.get(
    "/<uuid:release_id>/deployments/<uuid:deployment_id>",
    role="viewer",
    also_answers=(304,),
    response=DeploymentOut,
)
def get_deployment(call: Call, release_id: UUID, deployment_id: UUID) -> dict[str, Any]:
    """One deployment of this release, with its approvals."""
    return deployments.read_deployment(call.work, release_id=release_id, deployment_id=deployment_id)


@api.patch(
    "/<uuid:release_id>/deployments/<uuid:deployment_id>",
    role="developer",
    also_answers=(409, 412),
    response=DeploymentOut,
)
def report_status(
    call: Call, body: deployment_schemas.StatusIn, release_id: UUID, deployment_id: UUID
) -> dict[str, Any]:
    """A pipeline's progress report: only forward moves."""
    return deployments.report_status(
        call.work,
        release_id=release_id,
        deployment_id=deployment_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        if_match=if_match(call.request),
        status=body.status,
        log_url=body.log_url,
        message=body.message,
    )


@api.post(
    "/<uuid:release_id>/deployments/<uuid:deployment_id>/approvals",
    role="release_manager",
    status=201,
    also_answers=(409,),
    response=DecisionOut,
)
def decide(call: Call, body: deployment_schemas.ApprovalIn, release_id: UUID, deployment_id: UUID) -> dict[str, Any]:
    """Approve or reject a deployment waiting for approval."""
    return approvals.decide(
        call.work,
        release_id=release_id,
        deployment_id=deployment_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        teams=call.principal.teams,
        decision=body.decision,
        comment=body.comment,
    )


@api.post(
    "/rollback",
    role="release_manager",
    status=201,
    also_answers=(409,),
    response=DeploymentOut,
    location=True,
)
def rollback(call: Call, body: deployment_schemas.RollbackIn) -> Reply:
    """Redeploy the last good release before the live one (no approvals; allowed in a freeze)."""
    deployment = rollbacks.rollback(
        call.work,
        actor=call.principal.actor,
        grants=call.principal.grants,
        application=body.application,
        environment=body.environment,
        reason=body.reason,
    )
    location = call.location(f"/{deployment['release_id']}/deployments/{deployment['id']}")
    return Reply(body=deployment, headers={"Location": location})


# -- freezes ------------------------------------------------------------------------------------


@api.get("/freezes", role="viewer", lists=True, response=FreezeOut)
def list_freezes(call: Call, query: deployment_schemas.FreezeQuery) -> Reply:
    """Freeze windows, each saying whether it is active now."""
    items, cursor = freezes.list_freezes(
        call.work,
        limit=query.limit,
        cursor=query.cursor,
        environment=query.environment,
        application=query.application,
        active=query.active,
    )
    return listing(call, items, cursor)


@api.post("/freezes", role="release_manager", status=201, response=FreezeOut)
def create_freeze(call: Call, body: deployment_schemas.FreezeIn) -> dict[str, Any]:
    """A one-off or weekly freeze window, for one environment or all."""
    return freezes.create_freeze(
        call.work,
        actor=call.principal.actor,
        grants=call.principal.grants,
        data=body.model_dump(mode="json", exclude_none=True),
    )


@api.delete("/freezes/<uuid:freeze_id>", role="release_manager", status=204)
def delete_freeze(call: Call, freeze_id: UUID) -> None:
    """End a freeze window."""
    freezes.delete_freeze(call.work, freeze_id=freeze_id, actor=call.principal.actor, grants=call.principal.grants)


# -- overview and metrics -----------------------------------------------------------------------


@api.get("/overview", role="viewer", response=OverviewOut)
def overview(call: Call, query: deployment_schemas.OverviewQuery) -> dict[str, Any]:
    """Per environment: the live release, the one before it, and any deployment under way."""
    return insights.overview(call.work, application=query.application)


@api.get("/metrics", role="viewer", response=MetricsOut)
def metrics(call: Call, query: deployment_schemas.MetricsQuery) -> dict[str, Any]:
    """DORA metrics over a window, with the counts behind each figure."""
    return insights.metrics(call.work, application=query.application, environment=query.environment, days=query.days)


# -- audit ----------------------------------------------------------------------------------------


@api.get("/audit", role="admin", lists=True, response=AuditEventOut)
def audit_log(call: Call, query: schemas.AuditQuery) -> Reply | Response:
    """The whole audit log; `Accept: application/x-ndjson` streams every matching event."""
    roles.require(call.principal.grants, "admin")  # organisation-wide admins only
    filters: dict[str, Any] = {"entity_type": query.entity_type, "actor": query.actor, "since": query.since}
    if call.request.accept_mimetypes.best == "application/x-ndjson":
        return Response(audit.export_lines(get_engine(), **filters), mimetype="application/x-ndjson")
    items, cursor = audit.list_events(call.work.conn, limit=query.limit, cursor=query.cursor, **filters)
    return listing(call, items, cursor)


@api.get("/audit/verify", role="admin", response=VerifyOut)
def verify_audit(call: Call) -> dict[str, Any]:
    """Recompute the keyed hash chain and compare it with the checkpoints kept outside the database."""
    roles.require(call.principal.grants, "admin")
    return audit.verify_now(call.work.conn)


# -- events and subscriptions -------------------------------------------------------------------


@api.post(
    "/subscriptions",
    role="admin",
    status=201,
    response=SubscriptionCreatedOut,
    location=True,
    secret_fields=("secret",),
)
def create_subscription(call: Call, body: event_schemas.SubscriptionIn) -> Reply:
    """Subscribe a URL to events (signed webhooks, or Slack / Google Chat messages); the secret is shown once."""
    found = subscriptions.create_subscription(
        call.work, actor=call.principal.actor, grants=call.principal.grants, data=body.model_dump()
    )
    return Reply(body=found, headers={"Location": call.location(f"/subscriptions/{found['id']}")})


@api.get("/subscriptions", role="admin", lists=True, response=SubscriptionOut)
def list_subscriptions(call: Call, query: PageQuery) -> Reply:
    """The subscriptions you may manage, oldest first."""
    items, cursor = subscriptions.list_subscriptions(
        call.work, grants=call.principal.grants, limit=query.limit, cursor=query.cursor
    )
    return listing(call, items, cursor)


@api.get("/subscriptions/<uuid:subscription_id>", role="admin", response=SubscriptionOut)
def get_subscription(call: Call, subscription_id: UUID) -> dict[str, Any]:
    """One subscription (never its secret)."""
    return subscriptions.get_subscription(call.work, subscription_id=subscription_id, grants=call.principal.grants)


@api.patch("/subscriptions/<uuid:subscription_id>", role="admin", response=SubscriptionOut)
def update_subscription(call: Call, body: event_schemas.SubscriptionPatch, subscription_id: UUID) -> dict[str, Any]:
    """Change a subscription's target, filters or format; `active: true` turns it back on."""
    return subscriptions.update_subscription(
        call.work,
        subscription_id=subscription_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
        changes=body.model_dump(exclude_unset=True),
    )


@api.delete("/subscriptions/<uuid:subscription_id>", role="admin", status=204)
def delete_subscription(call: Call, subscription_id: UUID) -> None:
    """Delete a subscription and its delivery log."""
    subscriptions.delete_subscription(
        call.work, subscription_id=subscription_id, actor=call.principal.actor, grants=call.principal.grants
    )


@api.get("/subscriptions/<uuid:subscription_id>/deliveries", role="admin", lists=True, response=DeliveryOut)
def subscription_deliveries(call: Call, query: PageQuery, subscription_id: UUID) -> Reply:
    """The subscription's delivery log, newest first."""
    items, cursor = subscriptions.list_deliveries(
        call.work, subscription_id=subscription_id, grants=call.principal.grants, limit=query.limit, cursor=query.cursor
    )
    return listing(call, items, cursor)


@api.post(
    "/subscriptions/<uuid:subscription_id>/deliveries/<uuid:delivery_id>/redeliver",
    role="admin",
    status=202,
    response=DeliveryOut,
)
def redeliver(call: Call, subscription_id: UUID, delivery_id: UUID) -> dict[str, Any]:
    """Send a delivery's event again (same `webhook-id`), as a new delivery."""
    return subscriptions.redeliver(
        call.work,
        subscription_id=subscription_id,
        delivery_id=delivery_id,
        actor=call.principal.actor,
        grants=call.principal.grants,
    )


@api.post("/subscriptions/<uuid:subscription_id>/ping", role="admin", status=202, response=DeliveryOut)
def ping_subscription(call: Call, subscription_id: UUID) -> dict[str, Any]:
    """Send a `ping` event to this subscription alone."""
    return subscriptions.ping(
        call.work, subscription_id=subscription_id, actor=call.principal.actor, grants=call.principal.grants
    )


@api.post("/events/dispatch", role="viewer", response=DispatchOut, oidc_bearer=True)
def dispatch_events(call: Call) -> dict[str, Any]:
    """Send every delivery that is due: organisation-wide admins, or the service account named by
    EVENTS_DISPATCHER (Cloud Scheduler calls this every minute with that account's OIDC token)."""
    caller = call.principal
    roles.require_admin_or_named(
        caller.grants, service_account=caller.service_account_name, named=get_settings().events_dispatcher
    )
    return dispatch.run()


functions_framework.errorhandler(HTTPException)(api.framework_error)


@functions_framework.http
def releases(request: Request) -> Response:
    """Cloud Functions entry point."""
    return api(request)
