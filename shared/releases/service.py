"""Releases: create, read, list, edit, delete, finalize and cancel."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

import pydantic_core
import sqlalchemy as sa
from pydantic import StringConstraints

from shared import etags
from shared.audit import service as audit
from shared.db import UNIQUE_VIOLATION, UnitOfWork, sqlstate
from shared.errors import Conflict, NotFound
from shared.pagination import Id, Timestamp, decode_cursor, page
from shared.releases import rules
from shared.releases.tables import releases

LISTS_NAMESPACE = "releases"
_STATUS_ACTIONS = {"finalize": "release.finalized", "cancel": "release.cancelled"}

_columns = [c for c in releases.c if c.name not in ("search", "version_key")]
# The `-version` order's cursor holds a `rules.version_sort_key`.
VersionKey = Annotated[str, StringConstraints(pattern=rules.VERSION_KEY_PATTERN, max_length=512)]


def item_namespace(release_id: object) -> str:
    return f"release:{release_id}"


def cache_key(release_id: object) -> tuple[str, str]:
    """Where one release's representation is cached."""
    return item_namespace(release_id), "v"


def public_release(row: Any) -> dict[str, Any]:
    """A release as the API shows it."""
    return {
        "id": row.id,
        "application": row.application,
        "version": row.version,
        "title": row.title,
        "notes": row.notes,
        "source": row.source,
        "artifacts": row.artifacts,
        "status": row.status,
        "cancel_reason": row.cancel_reason,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _changed(work: UnitOfWork, release_id: object) -> None:
    """After commit, nothing cached about this release or any list is served again."""
    work.after_commit(lambda: work.cache.invalidate(item_namespace(release_id), LISTS_NAMESPACE))


def _record(work: UnitOfWork, actor: str, action: str, release_id: object, data: dict[str, Any] | None = None) -> None:
    audit.record(
        work.conn, actor=actor, action=action, entity_type="release", entity_id=release_id, data=data, now=work.now
    )


# -- reading ----------------------------------------------------------------------------------


def _summary(work: UnitOfWork, row: Any) -> dict[str, Any]:
    from shared.deployments.queries import release_summary

    return release_summary(work.conn, release_id=row.id, application=row.application)


def _load(work: UnitOfWork, release_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = sa.select(*_columns).where(releases.c.id == release_id)
    row = work.conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("No such release.", code="release_not_found")
    return row


def _representation(work: UnitOfWork, row: Any) -> dict[str, Any]:
    return public_release(row) | {"deployments": _summary(work, row)}


def get_release(work: UnitOfWork, *, release_id: uuid.UUID) -> dict[str, Any]:
    """The release and, per environment, its deployments; served from the cache when fresh."""

    def load() -> dict[str, Any]:
        return _representation(work, _load(work, release_id))

    return dict(work.cache.fetch(*cache_key(release_id), load))


def list_releases(
    work: UnitOfWork,
    *,
    limit: int,
    cursor: str | None = None,
    application: str | None = None,
    status: str | None = None,
    environment: str | None = None,
    q: str | None = None,
    sort: str = "-created_at",
) -> dict[str, Any]:
    """A page of releases, newest first or by SemVer precedence, keyset-paginated and cached."""
    params = {"limit": limit, "cursor": cursor, "application": application, "status": status}
    params |= {"environment": environment, "q": q, "sort": sort}
    key = pydantic_core.to_json(params).decode()
    after = decode_cursor(cursor, (VersionKey if sort == "-version" else Timestamp, Id)) if cursor else None

    def load() -> dict[str, Any]:
        order = releases.c.version_key if sort == "-version" else releases.c.created_at
        query = (
            sa.select(*_columns, order.label("sort_key")).order_by(order.desc(), releases.c.id.desc()).limit(limit + 1)
        )
        if application:
            query = query.where(releases.c.application == application)
        if status:
            query = query.where(releases.c.status == status)
        if q:
            query = query.where(releases.c.search.bool_op("@@")(sa.func.websearch_to_tsquery("english", q)))
        if environment:
            from shared.deployments.queries import live_release_ids

            query = query.where(releases.c.id.in_(live_release_ids(environment)))
        if after is not None:
            query = query.where(sa.tuple_(order, releases.c.id) < after)
        rows = work.conn.execute(query).all()
        items, next_cursor = page(rows, limit, lambda r: [_cursor_value(r.sort_key), str(r.id)])
        return {"items": [public_release(r) for r in items], "next_cursor": next_cursor}

    return dict(work.cache.fetch(LISTS_NAMESPACE, key, load))


def _cursor_value(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def release_events(
    work: UnitOfWork, *, release_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """The release's audit timeline, oldest first."""
    events, next_cursor = audit.list_events(
        work.conn, entity_type="release", entity_id=str(release_id), limit=limit, cursor=cursor
    )
    if (
        not events
        and cursor is None
        and work.conn.scalar(sa.select(releases.c.id).where(releases.c.id == release_id)) is None
    ):
        raise NotFound("No such release.", code="release_not_found")
    return events, next_cursor


# -- writing ----------------------------------------------------------------------------------


def create_release(work: UnitOfWork, *, actor: str, data: dict[str, Any]) -> dict[str, Any]:
    """A new draft (or ready) release; 409 `duplicate_version` when the version exists."""
    release_id = uuid.uuid4()
    values = {
        "id": release_id,
        "application": data["application"],
        "version": data["version"],
        "version_key": rules.version_sort_key(data["version"]),
        "title": data["title"],
        "notes": data.get("notes") or "",
        "source": data.get("source"),
        "artifacts": data.get("artifacts") or [],
        "status": data.get("status") or rules.DRAFT,
        "created_by": uuid.UUID(actor),
        "created_at": work.now,
        "updated_at": work.now,
    }
    try:
        with work.conn.begin_nested():
            row = work.conn.execute(sa.insert(releases).values(**values).returning(*_columns)).one()
    except sa.exc.IntegrityError as error:
        if sqlstate(error) == UNIQUE_VIOLATION:
            raise Conflict(
                f"{data['application']} {data['version']} exists already.", code="duplicate_version"
            ) from None
        raise
    _record(
        work,
        actor,
        "release.created",
        release_id,
        {"application": row.application, "version": row.version, "status": row.status},
    )
    _changed(work, release_id)
    return public_release(row) | {"deployments": {}}


def _check_precondition(work: UnitOfWork, row: Any, if_match: Callable[[str], bool] | None) -> None:
    if if_match is not None:
        etags.check(_representation(work, row), if_match)


def update_release(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    actor: str,
    changes: dict[str, Any],
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Edit a draft's content."""
    row = _load(work, release_id, lock=True)
    _check_precondition(work, row, if_match)
    rules.require_draft(row.status, "edited")
    if changes:
        row = work.conn.execute(
            sa.update(releases)
            .where(releases.c.id == release_id)
            .values(**changes, updated_at=work.now)
            .returning(*_columns)
        ).one()
        _record(work, actor, "release.updated", release_id, {"fields": sorted(changes)})
        _changed(work, release_id)
    return _representation(work, row)


def delete_release(
    work: UnitOfWork, *, release_id: uuid.UUID, actor: str, if_match: Callable[[str], bool] | None = None
) -> None:
    """Delete a draft."""
    row = _load(work, release_id, lock=True)
    _check_precondition(work, row, if_match)
    rules.require_draft(row.status, "deleted")
    work.conn.execute(sa.delete(releases).where(releases.c.id == release_id))
    _record(work, actor, "release.deleted", release_id, {"application": row.application, "version": row.version})
    _changed(work, release_id)


def change_status(
    work: UnitOfWork,
    *,
    release_id: uuid.UUID,
    actor: str,
    action: str,
    reason: str | None = None,
    if_match: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Finalize (draft → ready) or cancel (draft or ready → cancelled, with a reason).

    The row is held FOR UPDATE, which waits for deployment requests (FOR SHARE) and holds them off:
    cancel and deploy happen in one order, and the cancel ends the deployments not yet started."""
    row = _load(work, release_id, lock=True)
    _check_precondition(work, row, if_match)
    status = rules.transition(row.status, action)
    row = work.conn.execute(
        sa.update(releases)
        .where(releases.c.id == release_id)
        .values(status=status, cancel_reason=reason, updated_at=work.now)
        .returning(*_columns)
    ).one()
    data: dict[str, Any] = {"status": status, "reason": reason}
    if status == rules.CANCELLED:
        from shared.deployments.service import end_with_release

        data |= end_with_release(work, release_id=release_id, actor=actor, reason=reason)
    _record(work, actor, _STATUS_ACTIONS[action], release_id, data)
    _changed(work, release_id)
    return _representation(work, row)
