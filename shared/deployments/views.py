"""The routes of environments and their policies, deployments and approvals, rollbacks, freezes,
locks, the overview and metrics."""

from typing import Any
from uuid import UUID

from shared import etags
from shared.deployments import (
    approvals,
    attestations,
    automation,
    compare,
    drift,
    environments,
    freezes,
    hold_schemas,
    inbox,
    locks,
    matrix,
    timeline,
)
from shared.deployments import metrics as dora
from shared.deployments import overview as live
from shared.deployments import rollback as rollbacks
from shared.deployments import schemas as deployment_schemas
from shared.deployments import service as deployments
from shared.deployments.attestations import AttestationOut, AttestationQuery
from shared.deployments.compare import CompareOut, CompareQuery
from shared.deployments.drift import ObservationsOut, PushIn
from shared.deployments.hold_schemas import FreezeOut, LockOut
from shared.deployments.inbox import ApprovalRequestOut, ApprovalRequestQuery
from shared.deployments.matrix import MatrixQuery, MatrixRowOut
from shared.deployments.metrics import MetricsOut, MetricsQuery
from shared.deployments.overview import OverviewOut, OverviewQuery
from shared.deployments.schemas import (
    DecisionOut,
    DeploymentOut,
    EnvironmentOut,
    PolicyOut,
    PreflightOut,
)
from shared.deployments.timeline import TimelineEntryOut, TimelineQuery
from shared.pagination import PageQuery
from shared.web import Call, Reply, if_match, listing
from shared.web.routes import RouteTable

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


# -- freezes ----------------------------------------------------------------------------------------


@routes.get("/freezes", role="viewer", lists=True, response=FreezeOut)
def list_freezes(call: Call, query: hold_schemas.FreezeQuery) -> Reply:
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


@routes.post("/freezes", role="release_manager", status=201, response=FreezeOut)
def create_freeze(call: Call, body: hold_schemas.FreezeIn) -> dict[str, Any]:
    """A one-off or weekly freeze window, for one environment or all."""
    return freezes.create_freeze(call.work, caller=call.principal, freeze=body)


@routes.delete("/freezes/<uuid:freeze_id>", role="release_manager", status=204)
def delete_freeze(call: Call, freeze_id: UUID) -> None:
    """End a freeze window."""
    freezes.delete_freeze(call.work, freeze_id=freeze_id, caller=call.principal)


# -- locks ------------------------------------------------------------------------------------------


@routes.get("/locks", role="viewer", lists=True, response=LockOut)
def list_locks(call: Call, query: hold_schemas.LockQuery) -> Reply:
    """Environment locks, newest first, each saying whether it holds now."""
    items, cursor = locks.list_locks(call.work, query)
    return listing(call, items, cursor)


@routes.post("/locks", role="release_manager", status=201, also_answers=(409,), response=LockOut, location=True)
def lock(call: Call, body: hold_schemas.LockIn) -> Reply:
    """Lock an environment ("stop the line"): nothing new starts there until it is unlocked."""
    found = locks.lock(call.work, caller=call.principal, body=body)
    return Reply(body=found, headers={"Location": call.location(f"/locks/{found['id']}")})


@routes.get("/locks/<uuid:lock_id>", role="viewer", response=LockOut)
def get_lock(call: Call, lock_id: UUID) -> Reply:
    """One lock (with an ETag)."""
    found = locks.get_lock(call.work, lock_id=lock_id)
    return Reply(body=found, etag=etags.etag(found))


@routes.post("/locks/<uuid:lock_id>/unlock", role="release_manager", also_answers=(409,), response=LockOut)
def unlock(call: Call, body: hold_schemas.UnlockIn, lock_id: UUID) -> dict[str, Any]:
    """Unlock: what waited may start again; the lock stays on record."""
    return locks.unlock(call.work, lock_id=lock_id, caller=call.principal, body=body)


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
