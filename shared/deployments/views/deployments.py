"""The routes of environments and their policies, deployments and their approvals, rollbacks, the
approvals inbox, attestations and drift observations."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared import etags, lazy
from shared.deployments import schemas as deployment_schemas
from shared.deployments.read_models import (
    ApprovalRequestOut,
    ApprovalRequestQuery,
    AttestationOut,
    AttestationQuery,
    ObservationsOut,
    PushIn,
)
from shared.deployments.schemas import (
    DecisionOut,
    DeploymentOut,
    EnvironmentOut,
    PolicyOut,
    PreflightOut,
)
from shared.pagination import PageQuery
from shared.web import Call, Reply, if_match, listing
from shared.web.routes import RouteTable

if TYPE_CHECKING:
    from shared.deployments import approvals, attestations, automation, drift, environments, inbox
    from shared.deployments import rollback as rollbacks
    from shared.deployments import service as deployments
else:  # the services, loaded by the first request that calls them (shared.lazy)
    approvals = lazy.module("shared.deployments.approvals")
    attestations = lazy.module("shared.deployments.attestations")
    automation = lazy.module("shared.deployments.automation")
    drift = lazy.module("shared.deployments.drift")
    environments = lazy.module("shared.deployments.environments")
    inbox = lazy.module("shared.deployments.inbox")
    rollbacks = lazy.module("shared.deployments.rollback")
    deployments = lazy.module("shared.deployments.service")

routes = RouteTable()

# -- environments -----------------------------------------------------------------------------------


@routes.get("/environments", role="viewer", lists=True, response=EnvironmentOut)
def list_environments(call: Call, query: PageQuery) -> Reply:
    """The promotion path, first stage first."""
    items, cursor = environments.list_environments(call.work, limit=query.limit, cursor=query.cursor)
    return listing(call, items, cursor)


@routes.put(
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


@routes.get("/environments/<slug:name>/policy", role="viewer", response=PolicyOut)
def get_policy(call: Call, name: str) -> Reply:
    """An environment's policy: the floor every application's stage there is held to (with an ETag)."""
    found = environments.get_policy(call.work, name=name)
    return Reply(body=found, etag=etags.etag(found))


@routes.put("/environments/<slug:name>/policy", role="admin", also_answers=(412,), response=PolicyOut)
def put_policy(call: Call, body: deployment_schemas.PolicyIn, name: str) -> Reply:
    """Replace an environment's policy (organisation-wide admins); honours If-Match."""
    found = environments.put_policy(
        call.work,
        name=name,
        policy=body,
        caller=call.principal,
        if_match=if_match(call.request),
    )
    return Reply(body=found, etag=etags.etag(found))


# -- deployments ------------------------------------------------------------------------------------


@routes.post(
    "/<uuid:release_id>/deployments",
    role="developer",
    status=201,
    also_answers=(409,),
    response=DeploymentOut,
    location=True,
)
def request_deployment(call: Call, body: deployment_schemas.DeploymentIn, release_id: UUID) -> Reply:
    """Deploy a ready release to an environment; every gate is checked, every failure reported."""
    deployment = deployments.request_deployment(call.work, release_id=release_id, caller=call.principal, request=body)
    location = call.location(f"/{release_id}/deployments/{deployment['id']}")
    return Reply(body=deployment, headers={"Location": location})


@routes.post(
    "/<uuid:release_id>/deployments/preflight",
    role="viewer",
    response=PreflightOut,
)
def preflight(call: Call, body: deployment_schemas.PreflightIn, release_id: UUID) -> dict[str, Any]:
    """Every gate that would block a deployment now; nothing is written."""
    return deployments.preflight(call.work, release_id=release_id, environment=body.environment, skip=body.skip_stages)


@routes.get("/<uuid:release_id>/deployments", role="viewer", lists=True, response=DeploymentOut)
def release_deployments(call: Call, query: PageQuery, release_id: UUID) -> Reply:
    """This release's deployments, newest first."""
    deployments.ensure_release(call.work, release_id)
    items, cursor = deployments.list_deployments(
        call.work, release_id=release_id, limit=query.limit, cursor=query.cursor
    )
    return listing(call, items, cursor)


@routes.get("/deployments", role="viewer", lists=True, response=DeploymentOut)
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


@routes.get("/attestations", role="viewer", lists=True, response=AttestationOut)
def list_attestations(call: Call, query: AttestationQuery) -> Reply:
    """Binary Authorization attestations of an image, an environment or a deployment, newest first:
    each with its payload, signature and key id, to verify offline (`relman attestations verify`)."""
    items, cursor = attestations.list_attestations(call.work, query)
    return listing(call, items, cursor)


@routes.post("/drift/observations", role="viewer", response=ObservationsOut, oidc_bearer="drift_observer")
def observe_drift(call: Call, body: PushIn) -> dict[str, Any]:
    """A Pub/Sub push of a Cloud Run or GKE admin activity entry: each image it deployed, matched
    against the deployments that passed the gates there, or recorded as drift (`drift.detected`).
    Organisation-wide admins, or the service account DRIFT_OBSERVER names (the push's OIDC token)."""
    return drift.receive(call.work, caller=call.principal, push=body)


@routes.get("/approval-requests", role="viewer", lists=True, response=ApprovalRequestOut)
def approval_requests(call: Call, query: ApprovalRequestQuery) -> Reply:
    """The approvals inbox: deployments waiting for approval, newest first, each with its release's
    summary, its requester and rules still unmet, and whether the caller may decide it (or why not)."""
    items, cursor = inbox.approval_requests(call.work, call.principal, query)
    return listing(call, items, cursor)


@routes.get("/deployments/<uuid:deployment_id>", role="viewer", also_answers=(304,), response=DeploymentOut)
def find_deployment(call: Call, deployment_id: UUID) -> dict[str, Any]:
    """One deployment by its id alone, with its approvals (the same answer as under its release)."""
    return deployments.read_deployment(call.work, release_id=None, deployment_id=deployment_id)


@routes.get(
    "/<uuid:release_id>/deployments/<uuid:deployment_id>",
    role="viewer",
    also_answers=(304,),
    response=DeploymentOut,
)
def get_deployment(call: Call, release_id: UUID, deployment_id: UUID) -> dict[str, Any]:
    """One deployment of this release, with its approvals."""
    return deployments.read_deployment(call.work, release_id=release_id, deployment_id=deployment_id)


@routes.patch(
    "/<uuid:release_id>/deployments/<uuid:deployment_id>",
    role="developer",
    also_answers=(409, 412),
    response=DeploymentOut,
)
def report_status(
    call: Call, body: deployment_schemas.StatusIn, release_id: UUID, deployment_id: UUID
) -> dict[str, Any]:
    """A pipeline's progress report: only forward moves. A failure in a stage with `auto_rollback`
    has the rollback to the last good release requested with it."""
    reported = deployments.report_status(
        call.work,
        release_id=release_id,
        deployment_id=deployment_id,
        caller=call.principal,
        report=body,
        if_match=if_match(call.request),
    )
    automation.roll_back_failure(call.work, reported)
    return reported


@routes.post(
    "/<uuid:release_id>/deployments/<uuid:deployment_id>/approvals",
    role="release_manager",
    status=201,
    also_answers=(409,),
    response=DecisionOut,
)
def decide(call: Call, body: deployment_schemas.ApprovalIn, release_id: UUID, deployment_id: UUID) -> dict[str, Any]:
    """Approve or reject a deployment waiting for approval."""
    return approvals.decide(
        call.work, release_id=release_id, deployment_id=deployment_id, caller=call.principal, approval=body
    )


@routes.post(
    "/rollback",
    role="release_manager",
    status=201,
    also_answers=(409,),
    response=DeploymentOut,
    location=True,
)
def rollback(call: Call, body: deployment_schemas.RollbackIn) -> Reply:
    """Redeploy the last good release before the live one (no approvals; allowed in a freeze)."""
    deployment = rollbacks.rollback(call.work, caller=call.principal, request=body)
    location = call.location(f"/{deployment['release_id']}/deployments/{deployment['id']}")
    return Reply(body=deployment, headers={"Location": location})
