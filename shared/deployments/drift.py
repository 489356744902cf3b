"""Deploys that went around the gates. A log sink sends Cloud Run's and GKE's admin activity (a new
revision, a changed image) to a Pub/Sub topic whose push subscription calls
`POST /releases/drift/observations` with its own OIDC token (DRIFT_OBSERVER's). Each image such an
entry deploys is matched against the deployments that were allowed to run there: a deployment of
that application in that environment that passed the gates (queued, in progress, succeeded or
since rolled back) whose release lists the image's digest. One that matches none, or that is named
by a tag (nothing can vouch for a tag), is drift: a `drift.detected` audit record and event, shown
in the timeline and counted in metrics, and with DRIFT_LOCKS a lock of the environment for that
application.

Which application and environment a Google resource is: its labels `release-manager-application`
and `release-manager-environment` (on the Cloud Run service, on the Kubernetes workload). An entry
for a resource without them is not ours to judge, and is ignored. Pub/Sub delivers at least once:
an observation is recorded once per message and image."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.audit import service as audit
from shared.auth import roles
from shared.auth.principal import Principal
from shared.deployments import rules
from shared.deployments.read_models import PushIn
from shared.deployments.tables import deployments, drift_observations
from shared.errors import DomainError, Invalid
from shared.events import outbox
from shared.platform.settings import get_settings
from shared.platform.work import UnitOfWork
from shared.releases.tables import releases

APPLICATION_LABEL = "release-manager-application"
ENVIRONMENT_LABEL = "release-manager-environment"
ACTOR = "system:drift"
CLOUD_RUN = re.compile(r"^google\.cloud\.run\.v[12]\.Services\.(CreateService|ReplaceService|UpdateService)$")
GKE = re.compile(r"^io\.k8s\.apps\.v1\.(deployments|statefulsets|daemonsets)\.(create|update|patch)$")
# Allowed to run there: the gates passed (a deployment ended by a rollback had run).
ALLOWED = ("queued", "in_progress", "succeeded", "rolled_back")


@dataclass(frozen=True)
class Observed:
    platform: str  # cloud_run | gke
    resource: str
    application: str
    environment: str
    images: tuple[str, ...]
    actor: str | None


def _at(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or {} where a step is missing or not an object (a log entry is
    data from outside: any field may be absent or of another type)."""
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if value is not None else {}


def observed(entry: Any) -> Observed | None:
    """What an admin activity audit log entry deployed where; None for anything else: another
    method, a call that failed, a resource without our labels, no image."""
    payload = _at(entry, "protoPayload")
    method = str(_at(payload, "methodName") or "")
    if _at(payload, "status", "code"):
        return None
    if CLOUD_RUN.match(method):
        service = _at(payload, "request", "service") or _at(payload, "request")
        platform = "cloud_run"
        # v1 (Knative): metadata.labels, spec.template.spec.containers; v2: labels, template.containers.
        labels = _at(service, "metadata", "labels") or _at(service, "labels")
        containers = _at(service, "spec", "template", "spec", "containers") or _at(service, "template", "containers")
    elif GKE.match(method):
        platform = "gke"
        labels = _at(payload, "request", "metadata", "labels")
        containers = _at(payload, "request", "spec", "template", "spec", "containers")
    else:
        return None
    images = tuple(
        str(c["image"])
        for c in (containers if isinstance(containers, list) else [])
        if isinstance(c, Mapping) and c.get("image")
    )
    application, environment = (_at(labels, APPLICATION_LABEL), _at(labels, ENVIRONMENT_LABEL))
    if not images or not isinstance(application, str) or not isinstance(environment, str):
        return None
    who = _at(payload, "authenticationInfo", "principalEmail")
    resource = str(_at(payload, "resourceName") or "")
    return Observed(platform, resource, application, environment, images, who if isinstance(who, str) else None)


def digest_of(image: str) -> str | None:
    """The `sha256:...` an image reference is pinned to, or None (a tag)."""
    _, at, digest = image.rpartition("@")
    return digest if at and re.fullmatch(r"sha256:[0-9a-f]{64}", digest) else None


# -- the push ------------------------------------------------------------------------------------


def receive(work: UnitOfWork, *, caller: Principal, push: PushIn) -> dict[str, Any]:
    """One pushed log entry: each image it deployed, matched or recorded as drift (once per message)."""
    roles.require_admin_or_named(
        caller.grants, service_account=caller.service_account_name, named=get_settings().drift_observer
    )
    try:
        entry = json.loads(base64.b64decode(push.message.data, validate=True))
    except (binascii.Error, ValueError):
        raise Invalid("message.data is not a base64 JSON log entry.", code="invalid_log_entry") from None
    seen = observed(entry)
    if seen is None:
        return {"platform": None, "resource": None, "application": None, "environment": None, "observations": []}
    shown = [_observe(work, seen, image, message_id=push.message.message_id) for image in seen.images]
    return {
        "platform": seen.platform,
        "resource": seen.resource,
        "application": seen.application,
        "environment": seen.environment,
        "observations": shown,
    }


def _observe(work: UnitOfWork, seen: Observed, image: str, *, message_id: str) -> dict[str, Any]:
    digest = digest_of(image)
    allowed = _allowed(work.conn, seen.application, seen.environment, digest) if digest else None
    verdict = "matched" if allowed is not None else "drift"
    row = {
        "id": uuid.uuid4(),
        "message_id": message_id,
        "platform": seen.platform,
        "resource": seen.resource,
        "application": seen.application,
        "environment": seen.environment,
        "image": image,
        "digest": digest,
        "verdict": verdict,
        "deployment_id": allowed,
        "actor": seen.actor,
        "created_at": work.now,
    }
    new = work.conn.execute(
        pg_insert(drift_observations).values(row).on_conflict_do_nothing().returning(drift_observations.c.id)
    ).first()
    if new is not None and verdict == "drift":
        _detected(work, seen, image, digest, observation_id=new.id)
    return {"image": image, "digest": digest, "verdict": verdict, "deployment_id": allowed}


def _allowed(conn: sa.Connection, application: str, environment: str, digest: str) -> uuid.UUID | None:
    """The newest deployment of `application` in `environment` that passed the gates with that digest."""
    return conn.scalar(
        sa.select(deployments.c.id)
        .join(releases, releases.c.id == deployments.c.release_id)
        .where(
            deployments.c.application == application,
            deployments.c.environment == environment,
            deployments.c.status.in_(ALLOWED),
            releases.c.artifacts.contains([{"digest": digest}]),
        )
        .order_by(deployments.c.created_at.desc())
        .limit(1)
    )


def _detected(work: UnitOfWork, seen: Observed, image: str, digest: str | None, *, observation_id: uuid.UUID) -> None:
    why = "named by a tag, not a digest" if digest is None else "no deployment that passed the gates ran it"
    data = {
        "application": seen.application,
        "environment": seen.environment,
        "platform": seen.platform,
        "resource": seen.resource,
        "image": image,
        "digest": digest,
        "deployed_by": seen.actor,
        "reason": why,
    }
    audit.record(work, actor=ACTOR, action="drift.detected", entity_type="drift", entity_id=observation_id, data=data)
    if get_settings().drift_locks:
        _lock(work, seen, image)


def _lock(work: UnitOfWork, seen: Observed, image: str) -> None:
    """Stop the line for that application there (DRIFT_LOCKS): unless a lock holds already."""
    from shared.deployments import locks
    from shared.deployments.hold_schemas import LockIn

    caller = Principal(
        user_id=rules.AUTOMATION_ID,
        email="drift@rules",
        role="release_manager",
        grants=(roles.Grant("release_manager"),),
    )
    reason = f"Drift: {image} was deployed to {seen.resource} around the gates."
    try:
        with work.savepoint():
            locks.lock(
                work,
                caller=caller,
                body=LockIn(environment=seen.environment, application=seen.application, reason=reason),
            )
    except DomainError:  # held already, or no such application or environment: the record stands
        return


@outbox.describes("drift")
def describe_drift(conn: sa.Connection, observation_id: str, data: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """A drift event carries what was observed."""
    return {
        "drift": {"id": observation_id, **{k: v for k, v in data.items() if k not in ("application", "environment")}}
    }


def drift_count(conn: sa.Connection, *, environment: str, application: str | None, since: Any, until: Any) -> int:
    """Images deployed around the gates in the window (the metrics' `drift`)."""
    query = sa.select(sa.func.count()).where(
        drift_observations.c.verdict == "drift",
        drift_observations.c.environment == environment,
        drift_observations.c.created_at >= since,
        drift_observations.c.created_at < until,
    )
    if application is not None:
        query = query.where(drift_observations.c.application == application)
    return int(conn.scalar(query) or 0)
