"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pydantic_core
import sqlalchemy as sa

from shared.audit.tables import audit_events
from shared.clock import utcnow
from shared.logs import request_id_var
from shared.pagination import Position, decode_cursor, page

GENESIS_HASH = "0" * 64
# One advisory lock serialises appends, so the chain is a line, never a tree.
_APPEND_LOCK_KEY = 0x52_4D_41_55_44_49_54  # "RMAUDIT"


def canonical(event: dict[str, Any]) -> bytes:
    """The bytes an event's hash covers: every field but the hash, in a fixed form."""
    fields = {
        "id": str(event["id"]),
        "occurred_at": event["occurred_at"].isoformat(),
        "actor": event["actor"],
        "action": event["action"],
        "entity_type": event["entity_type"],
        "entity_id": str(event["entity_id"]),
        "data": event["data"],
        "request_id": event["request_id"],
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """sha256 over the previous hash and this event's canonical bytes."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(event)).hexdigest()


def record(
    conn: sa.Connection,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Append one event in the caller's transaction; it commits or rolls back with the change."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_KEY})
    prev_hash = conn.scalar(sa.select(audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1))
    event: dict[str, Any] = {
        "id": uuid.uuid4(),
        "occurred_at": now or utcnow(),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "data": json.loads(json.dumps(data or {}, default=str)),
        "request_id": request_id_var.get(),
        "prev_hash": prev_hash or GENESIS_HASH,
    }
    event["hash"] = chain_hash(event["prev_hash"], event)
    conn.execute(audit_events.insert().values(**event))
    return event


def public(row: Any) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "id": row.id,
        "occurred_at": row.occurred_at,
        "actor": row.actor,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "data": row.data,
        "request_id": row.request_id,
        "hash": row.hash,
    }


def filtered(
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    after_seq: int | None = None,
) -> sa.Select[Any]:
    """Events matching the filters, oldest first."""
    query = sa.select(audit_events).order_by(audit_events.c.seq)
    if entity_type is not None:
        query = query.where(audit_events.c.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(audit_events.c.entity_id == entity_id)
    if actor is not None:
        query = query.where(audit_events.c.actor == actor)
    if since is not None:
        query = query.where(audit_events.c.occurred_at >= since)
    if after_seq is not None:
        query = query.where(audit_events.c.seq > after_seq)
    return query


def list_events(
    conn: sa.Connection, *, limit: int, cursor: str | None, **filters: Any
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of events, oldest first."""
    after = decode_cursor(cursor, (Position,))[0] if cursor else None
    rows = conn.execute(filtered(after_seq=after, **filters).limit(limit + 1)).all()
    kept, next_cursor = page(rows, limit, lambda r: [r.seq])
    return [public(r) for r in kept], next_cursor


def export_lines(engine: sa.Engine, query: sa.Select[Any]) -> Iterator[bytes]:
    """Every matching event as one JSON line, streamed from a server-side cursor."""
    with engine.connect() as conn:
        for row in iterate(conn, query):
            yield pydantic_core.to_json(public(row)) + b"\n"


def iterate(conn: sa.Connection, query: sa.Select[Any], *, batch: int = 500) -> Iterator[Any]:
    """Stream rows with a server-side cursor so the whole log is never held in memory."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
    yield from result


def verify(conn: sa.Connection) -> dict[str, Any]:
    """Recompute the chain; the first event whose stored link or hash is wrong is `first_bad`."""
    checked = 0
    expected_prev = GENESIS_HASH
    for row in iterate(conn, sa.select(audit_events).order_by(audit_events.c.seq)):
        event = row._asdict()
        if row.prev_hash != expected_prev or chain_hash(row.prev_hash, event) != row.hash:
            return {"ok": False, "checked": checked + 1, "first_bad": row.id}
        checked += 1
        expected_prev = row.hash
    return {"ok": True, "checked": checked, "first_bad": None}
