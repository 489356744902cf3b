"""Binary Authorization attestations of what may run: when a deployment becomes `queued` (every gate
passed: at its request, at the approval that met its rules, a rollback at its request) in an
environment with an attestor (ATTESTORS), each container image of its release gets an attestation:
its payload signed with that environment's Cloud KMS key and stored in Container Analysis, where a
Binary Authorization policy requiring the attestor finds it (shared/platform/attestors.py).

They are planned in the transaction that queues the deployment, `pending`, and signed once it
commits, by the request itself and then by every dispatch until they are. Until then the pipeline's
`queued → in_progress` is 503 `attestation_pending` with `Retry-After`: never a silent pass.

Signing holds the deployment and its release FOR SHARE, so a cancel (which takes them FOR UPDATE)
waits for an attestation under way, or comes first and leaves it `abandoned`: a cancelled release
or an ended deployment gets no new attestation."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.deployments.read_models import AttestationQuery
from shared.deployments.tables import attestations, deployments
from shared.errors import Unavailable
from shared.pagination import Id, Keyset, Timestamp, keyset_page
from shared.platform import attestors
from shared.platform.db import get_engine
from shared.platform.settings import get_settings
from shared.platform.work import UnitOfWork
from shared.releases.tables import releases

BATCH = 50
log = logging.getLogger(__name__)


def plan(work: UnitOfWork, *, deployment_id: uuid.UUID, environment: str, artifacts: Iterable[Any]) -> int:
    """The deployment may run now: a pending attestation per container image of its release, when
    its environment has an attestor; signed once the work commits. How many were planned."""
    if attestors.attestor_for(get_settings(), environment) is None:
        return 0
    rows = []
    for artifact in artifacts:
        image = attestors.image_of(str(artifact["uri"]))
        if image is not None:
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "deployment_id": deployment_id,
                    "environment": environment,
                    "digest": artifact["digest"],
                    "resource_uri": f"https://{image}@{artifact['digest']}",
                    "status": "pending",
                    "created_at": work.now,
                }
            )
    if rows:
        work.conn.execute(pg_insert(attestations).values(rows).on_conflict_do_nothing())
        work.after_commit(lambda: _attest_soon(deployment_id), key=f"attest:{deployment_id}")
    return len(rows)


def _attest_soon(deployment_id: uuid.UUID) -> None:
    """Once the deployment is committed queued: sign its attestations now, if Google's side answers
    (the answer to the request that queued it does not depend on it; dispatch tries again)."""
    try:
        attest_pending(deployment_id=deployment_id)
    except Exception:
        log.exception("attestations left to dispatch", extra={"deployment_id": str(deployment_id)})


def require_attested(work: UnitOfWork, deployment_id: uuid.UUID) -> None:
    """503 `attestation_pending` (with Retry-After) while an image of the deployment waits for its
    attestation: it may not start before Binary Authorization would admit it. With no attestor
    configured, nothing is asked of the database (every start passes through here)."""
    if not get_settings().attestors:
        return
    pending = work.conn.scalar(
        sa.select(sa.func.count())
        .select_from(attestations)
        .where(attestations.c.deployment_id == deployment_id, attestations.c.status == "pending")
    )
    if pending:
        what = "1 of its images is" if pending == 1 else f"{pending} of its images are"
        raise Unavailable(
            f"{what} not attested for Binary Authorization yet; it may start once attested (dispatch tries "
            "again every minute).",
            code="attestation_pending",
            retry_after=attestors.RETRY_AFTER_S,
        )


def attest_pending(*, engine: sa.Engine | None = None, deployment_id: uuid.UUID | None = None) -> dict[str, int]:
    """Sign and store what is pending (of one deployment, or all), oldest first, in one transaction;
    stop at the first failure of Google's side (the rest waits for the next try).
    `{attested, abandoned, failed}`."""
    engine = engine or get_engine()
    settings = get_settings()
    tally = {"attested": 0, "abandoned": 0, "failed": 0}
    with engine.begin() as conn:
        query = sa.select(attestations).where(attestations.c.status == "pending")
        if deployment_id is not None:
            query = query.where(attestations.c.deployment_id == deployment_id)
        claimed = conn.execute(
            query.order_by(attestations.c.created_at).limit(BATCH).with_for_update(skip_locked=True)
        ).all()
        runnable = _runnable(conn, {row.deployment_id for row in claimed})
        for row in claimed:
            attestor = attestors.attestor_for(settings, row.environment)
            if row.deployment_id not in runnable or attestor is None:
                why = "its deployment ended, or its release was cancelled, before it was attested"
                _set(conn, row.id, status="abandoned", error=why if attestor else "its environment has no attestor")
                tally["abandoned"] += 1
                continue
            try:
                _attest(conn, settings, attestor, row, runnable[row.deployment_id])
            except Unavailable as refused:
                _set(conn, row.id, attempts=row.attempts + 1, error=refused.detail)
                tally["failed"] += 1
                break
            tally["attested"] += 1
    return tally


def _runnable(conn: sa.Connection, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Of these deployments, those still queued with their release ready, held FOR SHARE while they
    are attested (releases first, then deployments: the order every move locks them in), with their
    release as `application@version`."""
    if not ids:
        return {}
    release_ids = sa.select(deployments.c.release_id).where(deployments.c.id.in_(ids)).scalar_subquery()
    ready = set(
        conn.scalars(
            sa.select(releases.c.id)
            .where(releases.c.id.in_(release_ids), releases.c.status == "ready")
            .with_for_update(read=True)
        )
    )
    rows = conn.execute(
        sa.select(deployments.c.id, deployments.c.release_id, deployments.c.application, deployments.c.version)
        .where(deployments.c.id.in_(ids), deployments.c.status == "queued")
        .with_for_update(read=True)
    ).all()
    return {r.id: f"{r.application}@{r.version}" for r in rows if r.release_id in ready}


def _attest(conn: sa.Connection, settings: Any, attestor: attestors.Attestor, row: Any, release: str) -> None:
    image = row.resource_uri.removeprefix("https://").split("@", 1)[0]
    signed = attestors.payload(
        image=image,
        digest=row.digest,
        environment=row.environment,
        deployment_id=str(row.deployment_id),
        release=release,
    )
    signature = attestors.sign(settings, attestor, signed)
    occurrence = attestors.attach(settings, attestor, resource_uri=row.resource_uri, signed=signed, signature=signature)
    _set(
        conn,
        row.id,
        status="attested",
        payload=signed,
        signature=signature,
        public_key_id=attestor.public_key_id,
        occurrence=occurrence,
        attempts=row.attempts + 1,
        error=None,
        attested_at=sa.func.now(),
    )


def _set(conn: sa.Connection, attestation_id: uuid.UUID, **values: Any) -> None:
    conn.execute(sa.update(attestations).where(attestations.c.id == attestation_id).values(**values))


# -- reading them ----------------------------------------------------------------------------------


_NEWEST_FIRST = Keyset((attestations.c.created_at, attestations.c.id), (Timestamp, Id), descending=True)


def list_attestations(work: UnitOfWork, query: AttestationQuery) -> tuple[list[dict[str, Any]], str | None]:
    """Attestations, newest first, of an image, an environment or a deployment."""
    select = sa.select(attestations)
    for column in ("digest", "environment", "deployment_id"):
        if getattr(query, column) is not None:
            select = select.where(attestations.c[column] == getattr(query, column))
    rows, cursor = keyset_page(work.conn, select, _NEWEST_FIRST, limit=query.limit, cursor=query.cursor)
    return [_shown(row) for row in rows], cursor


def _shown(row: Any) -> dict[str, Any]:
    shown = dict(row._mapping)
    for name in ("payload", "signature"):
        shown[name] = base64.b64encode(shown[name]).decode() if shown[name] is not None else None
    return shown
