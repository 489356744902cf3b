"""Releases on their own: load, list, create, edit, delete and move through their lifecycle.

What the API shows of a release also says where it is deployed; `shared.catalog` composes that,
above this module and `shared.deployments`, so releases never import deployments."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import StringConstraints

from shared.audit import service as audit
from shared.auth.people import describe_actor
from shared.auth.tables import users
from shared.errors import Conflict, NotFound
from shared.events import outbox
from shared.models import Shape
from shared.pagination import Id, Keyset, Timestamp, decode_cursor, keyset_page
from shared.platform.db import savepoint
from shared.platform.namespaces import RELEASE_LISTS_NAMESPACE, release_namespace
from shared.platform.work import UnitOfWork
from shared.releases import rules
from shared.releases.schemas import ReleaseIn, ReleaseOut, ReleasePatch
from shared.releases.tables import releases

_STATUS_ACTIONS: dict[rules.StatusAction, str] = {"finalize": "release.finalized", "cancel": "release.cancelled"}

_columns = [c for c in releases.c if c.name not in ("search", "version_key")]
# What the API shows besides: who created it, by name (a person's display name, else email). As a
# fixed SQL fragment, because SQLAlchemy does not correlate a subquery in RETURNING (the rows that
# creating and changing a release return carry it too).
_CREATOR_NAME: sa.Label[Any] = sa.literal_column(
    "(SELECT coalesce(users.display_name, users.email) FROM users WHERE users.id = releases.created_by)"
).label("created_by_name")
_shown = [*_columns, _CREATOR_NAME]
# A page of releases names their creators through a join (a subquery per row cost a third of a
# forced-miss page).
_listed = [*_columns, sa.func.coalesce(users.c.display_name, users.c.email).label("created_by_name")]
# The `-version` order's cursor holds a `rules.version_sort_key`.
VersionKey = Annotated[str, StringConstraints(pattern=rules.VERSION_KEY_PATTERN, max_length=512)]

# A release as the API shows it (without where it is deployed).
public_release = Shape(ReleaseOut)


def changed(work: UnitOfWork, *release_ids: object) -> None:
    """After commit, nothing cached about these releases (with their deployment summaries) or any list
    is served again."""
    work.invalidate(*(release_namespace(r) for r in release_ids), RELEASE_LISTS_NAMESPACE)


@outbox.describes("release")
def describe_release(conn: sa.Connection, release_id: str, data: Any, actor: str) -> dict[str, Any]:
    """A release's events carry it as the API shows it."""
    row = conn.execute(sa.select(*_shown).where(releases.c.id == uuid.UUID(release_id))).first()
    found: dict[str, Any] = {"actor": describe_actor(conn, actor)}
    if row is not None:
        found |= {"release": public_release(row), "application": row.application}
    return found


def _record(work: UnitOfWork, actor: str, action: str, release_id: object, data: dict[str, Any] | None = None) -> None:
    audit.record(work, actor=actor, action=action, entity_type="release", entity_id=release_id, data=data)


# -- reading ----------------------------------------------------------------------------------


def load_release(conn: sa.Connection, release_id: uuid.UUID, *, lock: Literal["share", "update"] | None = None) -> Any:
    """The release's row, or 404 `release_not_found`. The one loader, for releases and deployments alike.

    `lock="update"` (an edit, a status change) holds it FOR UPDATE; `lock="share"` (whatever moves a
    deployment) FOR SHARE, which the former waits for and the other way round. A deployment's move
    locks its release first, then the deployment: one order, no deadlock."""
    query = sa.select(*_shown).where(releases.c.id == release_id)
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("No such release.", code="release_not_found")
    return row


def release_select(*beside: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The SELECT of one release (parameter `release_id`) for `read_release`, with the columns
    `beside` its own: what another concept says about the release, read in the same statement.

    The id is written into the statement when it runs (a UUID, so nothing a client typed): a
    statement without parameters goes in the simple query protocol, one round trip where a
    parameter costs three (parse, describe, execute), and the driver does not scan its text."""
    release_id = sa.bindparam("release_id", type_=releases.c.id.type, literal_execute=True)
    return sa.select(*_shown, *beside).where(releases.c.id == release_id)


def read_release(work: UnitOfWork, release_id: uuid.UUID, query: sa.Select[Any]) -> Any:
    """The release's row as `query` (a `release_select`) reads it, in one read-only statement
    (`UnitOfWork.read`), or 404 `release_not_found`."""
    rows = work.read(query, {"release_id": release_id})
    if not rows:
        raise NotFound("No such release.", code="release_not_found")
    return rows[0]


def ensure_release(work: UnitOfWork, release_id: uuid.UUID) -> None:
    """404 `release_not_found` unless the release exists."""
    if work.conn.scalar(sa.select(releases.c.id).where(releases.c.id == release_id)) is None:
        raise NotFound("No such release.", code="release_not_found")


def list_position(cursor: str | None, sort: str) -> tuple[Any, ...] | None:
    """Where a `list_page` cursor for this `sort` points; 400 for a cursor that is not one."""
    return decode_cursor(cursor, (VersionKey if sort == "-version" else Timestamp, Id)) if cursor else None


def list_page(
    work: UnitOfWork,
    *,
    limit: int,
    after: tuple[Any, ...] | None = None,
    application: str | None = None,
    status: str | None = None,
    q: str | None = None,
    sort: str = "-created_at",
    among: sa.Select[Any] | None = None,
) -> dict[str, Any]:
    """A page of releases after `after` (a `list_position`), newest first or by SemVer precedence;
    `among`: only the releases whose ids this query selects."""
    order = releases.c.version_key if sort == "-version" else releases.c.created_at
    # The cursor's key: `created_at` is among the columns already (decoding a timestamp twice per row
    # was a tenth of a page's time); `version_key` is read only for its order.
    also = [order] if order is releases.c.version_key else []
    query = sa.select(*_listed, *also).select_from(releases.outerjoin(users, users.c.id == releases.c.created_by))
    if application:
        query = query.where(releases.c.application == application)
    if status:
        query = query.where(releases.c.status == status)
    if q:
        query = query.where(releases.c.search.bool_op("@@")(sa.func.websearch_to_tsquery("english", q)))
    if among is not None:
        query = query.where(releases.c.id.in_(among))
    keyset = Keyset((order, releases.c.id), (VersionKey if sort == "-version" else Timestamp, Id), descending=True)
    items, next_cursor = keyset_page(work, query, keyset, limit=limit, after=after)
    return {"items": [public_release(r) for r in items], "next_cursor": next_cursor}


def release_events(
    work: UnitOfWork, *, release_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """The release's audit timeline, oldest first."""
    events, next_cursor = audit.list_events(
        work.conn, entity_type="release", entity_id=str(release_id), limit=limit, cursor=cursor
    )
    if not events and cursor is None:
        ensure_release(work, release_id)
    return events, next_cursor


# -- writing ----------------------------------------------------------------------------------


def create_release(work: UnitOfWork, *, actor: str, release: ReleaseIn, registered_application: bool = False) -> Any:
    """A new draft (or ready) release's row; 409 `duplicate_version` when the version exists.
    `registered_application`: this first release registered its application (its event says so)."""
    release_id = uuid.uuid4()
    values = {
        "id": release_id,
        "application": release.application,
        "version": release.version,
        "version_key": rules.version_sort_key(release.version),
        "title": release.title,
        "notes": release.notes,
        "status": release.status,
        "created_by": uuid.UUID(actor),
        "created_at": work.now,
        "updated_at": work.now,
    } | release.model_dump(mode="json", include={"source", "artifacts", "kind", "incident_url"})
    with savepoint(
        work.conn,
        taken=lambda: Conflict(f"{release.application} {release.version} exists already.", code="duplicate_version"),
    ):
        row = work.conn.execute(sa.insert(releases).values(**values).returning(*_shown)).one()
    _record(
        work,
        actor,
        "release.created",
        release_id,
        {"application": row.application, "version": row.version, "status": row.status}
        | ({"registered_application": True} if registered_application else {}),
    )
    changed(work, release_id)
    return row


def edit_release(work: UnitOfWork, *, row: Any, actor: str, patch: ReleasePatch) -> Any:
    """Edit a draft's content (`row` held FOR UPDATE) with the fields the patch sent; the row as it is now."""
    rules.require_draft(row.status, "edited")
    changes = patch.model_dump(mode="json", include=patch.model_fields_set)
    if not changes:
        return row
    row = work.conn.execute(
        sa.update(releases).where(releases.c.id == row.id).values(**changes, updated_at=work.now).returning(*_shown)
    ).one()
    _record(work, actor, "release.updated", row.id, {"fields": sorted(changes)})
    changed(work, row.id)
    return row


def delete_release(work: UnitOfWork, *, row: Any, actor: str) -> None:
    """Delete a draft (`row` held FOR UPDATE)."""
    rules.require_draft(row.status, "deleted")
    work.conn.execute(sa.delete(releases).where(releases.c.id == row.id))
    _record(work, actor, "release.deleted", row.id, {"application": row.application, "version": row.version})
    changed(work, row.id)


def set_status(work: UnitOfWork, *, row: Any, action: rules.StatusAction, reason: str | None) -> Any:
    """Finalize (draft → ready) or cancel (draft or ready → cancelled, with a reason) the release
    (`row` held FOR UPDATE); the row as it is now. The caller records it, with `status_recorded`,
    once whatever the change ends with it is done."""
    status = rules.transition(row.status, action)
    row = work.conn.execute(
        sa.update(releases)
        .where(releases.c.id == row.id)
        .values(status=status, cancel_reason=reason, updated_at=work.now)
        .returning(*_shown)
    ).one()
    return row


def status_recorded(
    work: UnitOfWork, *, row: Any, actor: str, action: rules.StatusAction, data: dict[str, Any]
) -> None:
    """Audit a status change made by `set_status` (with `data`) and refresh what is cached about it."""
    _record(work, actor, _STATUS_ACTIONS[action], row.id, {"status": row.status, **data})
    changed(work, row.id)
