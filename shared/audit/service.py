"""Appending to and verifying the keyed, hash-chained audit log.

Each event's hash is HMAC-SHA256, with AUDIT_KEY (which the database never holds), over the
previous event's hash and the event itself; after a commit that appended events, the new head
(seq, hash) is written to the checkpoint sink outside the database (`shared.audit.checkpoints`, at
most one per AUDIT_CHECKPOINT_INTERVAL). So an edit re-hashed without the key breaks the chain, and
removing the newest events leaves the table's head short of a checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import pydantic_core
import sqlalchemy as sa

from shared.audit import anchor as anchors
from shared.audit.checkpoints import Checkpoint, get_throttle, sink_for, write_best_effort
from shared.audit.schemas import AuditEventOut
from shared.audit.tables import audit_events
from shared.events import outbox
from shared.models import Shape
from shared.pagination import Keyset, Position, keyset_page
from shared.platform.clock import utcnow
from shared.platform.logs import request_id_var
from shared.platform.settings import get_settings
from shared.platform.work import UnitOfWork

GENESIS_HASH = "0" * 64
UNKEYED, KEYED = 1, 2  # audit_events.hash_version
EXPORT_BATCH = 500
# One advisory lock serialises appends, so the chain is a line, never a tree.
_IN_ORDER = Keyset((audit_events.c.seq,), (Position,))  # the order events were appended in
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


def chain_hash(prev_hash: str, event: dict[str, Any], *, key: bytes | None) -> str:
    """HMAC-SHA256 with `key` over the previous hash and this event's canonical bytes; plain
    SHA-256 (`key=None`) only to check events written before the chain was keyed."""
    message = prev_hash.encode() + b"\n" + canonical(event)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def record(
    work: UnitOfWork,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one event, at the unit of work's time, in its transaction: it commits or rolls back
    with the change. Once the unit of work commits it, the new head is written to the checkpoint sink
    (unless one was written in the last AUDIT_CHECKPOINT_INTERVAL: a later one covers this event)."""
    conn, now = work.conn, work.now
    settings = get_settings()
    key = settings.audit_signing_key()
    sink = sink_for(settings)  # a missing setting fails the request; its transaction rolls back
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_KEY})
    prev_hash = conn.scalar(sa.select(audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1))
    event: dict[str, Any] = {
        "id": uuid.uuid4(),
        "occurred_at": now,
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "data": json.loads(json.dumps(data or {}, default=str)),
        "request_id": request_id_var.get(),
        "prev_hash": prev_hash or GENESIS_HASH,
        "hash_version": KEYED,
    }
    event["hash"] = chain_hash(event["prev_hash"], event, key=key)
    seq = conn.scalar(audit_events.insert().values(**event).returning(audit_events.c.seq))
    head = Checkpoint(int(seq), event["hash"])
    throttle = get_throttle()
    work.after_commit(lambda: write_best_effort(sink, head, throttle), key="audit-checkpoint")
    # The audit log is the record; `events` is the outbox it feeds, in the same transaction.
    outbox.emit(work, action=action, actor=actor, entity_type=entity_type, entity_id=entity_id, data=event["data"])
    return event


# An event as the API shows it.
public = Shape(AuditEventOut)


def filtered(
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    after_seq: int | None = None,
) -> sa.Select[Any]:
    """Events matching the filters (callers give the order: `seq`, oldest first)."""
    query = sa.select(audit_events)
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
    kept, next_cursor = keyset_page(conn, filtered(**filters), _IN_ORDER, limit=limit, cursor=cursor)
    return [public(r) for r in kept], next_cursor


def newest(conn: sa.Connection, *, limit: int) -> list[dict[str, Any]]:
    """The newest events, newest first (what the console shows admins)."""
    return [public(r) for r in conn.execute(filtered().order_by(audit_events.c.seq.desc()).limit(limit))]


def last_verified(conn: sa.Connection) -> dict[str, Any] | None:
    """Where the last verify that succeeded got to, `{seq, verified_at, since}` (`since`: events
    appended after it, not yet verified), read from its anchor, whose MAC this instance checks; None
    when no verify has succeeded. It needs neither the checkpoints nor the right to read them. A
    verify that fails leaves the anchor as it was."""
    settings = get_settings()
    found = anchors.load(conn, key=settings.audit_signing_key(), sink=sink_for(settings).name)
    if found is None:
        return None
    since = conn.scalar(sa.select(sa.func.count()).where(audit_events.c.seq > found.checkpoint.seq))
    return {"seq": found.checkpoint.seq, "verified_at": found.verified_at, "since": since}


def export_lines(engine: sa.Engine, *, batch: int | None = None, **filters: Any) -> Iterator[bytes]:
    """Every matching event as one JSON line, read in keyset pages of `batch` events. Each page
    is read on a connection that goes back to the pool before any line is handed to the client,
    so a slow or stalled reader holds no connection. Events are appended in `seq` order under
    one lock, so pages neither skip nor repeat an event."""
    size = batch or EXPORT_BATCH
    after: int | None = None
    while True:
        with engine.connect() as conn:
            rows = conn.execute(filtered(after_seq=after, **filters).order_by(audit_events.c.seq).limit(size)).all()
        if not rows:
            return
        yield b"".join(pydantic_core.to_json(public(row)) + b"\n" for row in rows)
        if len(rows) < size:
            return
        after = rows[-1].seq


def iterate(conn: sa.Connection, query: sa.Select[Any], *, batch: int = 500) -> Iterator[Any]:
    """Stream rows with a server-side cursor so the whole log is never held in memory. The options
    are the statement's: set on the connection they would stay, and turn its later statements
    (verify's anchor upsert) into cursors too."""
    result = conn.execute(query.execution_options(stream_results=True, yield_per=batch))
    yield from result


def verify(
    conn: sa.Connection,
    *,
    key: bytes,
    checkpoints: Iterable[Checkpoint],
    anchor: Checkpoint | None = None,
    ignored_checkpoints: int = 0,
) -> dict[str, Any]:
    """Recompute the chain with the key and hold it against the checkpoints read, and `anchor`.

    `anchor` is the newest checkpoint an earlier verify matched (`shared.audit.anchor`): checkpoints
    older than it were read then and are not read again. It stands for them soundly because each
    event's hash covers the one before it: the event at the anchor's seq still has the anchor's hash
    only if no event up to it was removed or rewritten, except by someone holding the key. The chain
    itself is recomputed from the first event every time: an event's own fields edited and its hash
    left as it was (no key needed) shows only when that event is hashed again, however old it is.

    The answer: `ok`; `checked` (events read); `first_bad` (the first event found wrong, if one
    is); `problem`, one of `link_broken` (an event's `prev_hash` is not its predecessor's hash: an
    event before it was removed or edited), `hash_mismatch` (an event's fields or hash were changed
    and not re-hashed with the key), `unkeyed_after_keyed` (a plain SHA-256 event after keyed ones:
    only events older than the keyed chain may be unkeyed), `checkpoint_mismatch` (the event at a
    checkpoint's seq, or the anchor's, has another hash, or is gone), `events_removed` (the newest
    events are gone: the table ends before the newest checkpoint); `detail`, a sentence; `unkeyed`,
    how many old plain SHA-256 events lead the chain; `checkpoints`, how many were read and compared;
    `ignored_checkpoints`, lines read whose MAC did not verify; `anchor`; `last_checkpoint`.
    """
    checkpoints = list(checkpoints)
    recorded, conflicting = _recorded([*([anchor] if anchor is not None else []), *checkpoints])
    newest = max(recorded, default=None)
    answer: dict[str, Any] = {
        "ok": True,
        "checked": 0,
        "first_bad": None,
        "problem": None,
        "detail": None,
        "unkeyed": 0,
        "checkpoints": len({c for c in checkpoints if c is not anchor}),
        "ignored_checkpoints": ignored_checkpoints,
        "anchor": {"seq": anchor.seq, "hash": anchor.hash} if anchor is not None else None,
        "last_checkpoint": {"seq": newest, "hash": recorded[newest]} if newest is not None else None,
    }
    return _walk(conn, key, recorded, conflicting, answer)


def _recorded(checkpoints: Iterable[Checkpoint]) -> tuple[dict[int, str], set[int]]:
    """The hash recorded for each seq, and the seqs that two checkpoints record differently."""
    recorded: dict[int, str] = {}
    conflicting: set[int] = set()
    for checkpoint in checkpoints:
        if recorded.setdefault(checkpoint.seq, checkpoint.hash) != checkpoint.hash:
            conflicting.add(checkpoint.seq)
    return recorded, conflicting


def _walk(
    conn: sa.Connection, key: bytes, recorded: dict[int, str], conflicting: set[int], answer: dict[str, Any]
) -> dict[str, Any]:
    """Read the chain in seq order, each event against the one before it, its hash and the
    checkpoints recorded for it; `answer` with the first problem found, if any."""

    def bad(problem: str, detail: str, row: Any = None) -> dict[str, Any]:
        return answer | {"ok": False, "problem": problem, "detail": detail, "first_bad": row.id if row else None}

    expected_prev, keyed_seen, head_seq = GENESIS_HASH, False, 0
    pending = deque(sorted(recorded))  # checkpoints not yet matched to an event, lowest first
    for row in iterate(conn, sa.select(audit_events).order_by(audit_events.c.seq)):
        answer["checked"] += 1
        if row.prev_hash != expected_prev:
            return bad("link_broken", f"event {row.seq} does not follow the event before it", row)
        if row.hash_version != KEYED and keyed_seen:
            return bad("unkeyed_after_keyed", f"event {row.seq} is unkeyed after keyed events", row)
        keyed_seen = row.hash_version == KEYED
        answer["unkeyed"] += 0 if keyed_seen else 1
        expected = chain_hash(row.prev_hash, row._asdict(), key=key if keyed_seen else None)
        if not hmac.compare_digest(expected, row.hash):
            return bad("hash_mismatch", f"event {row.seq} does not match its hash", row)
        if pending and pending[0] < row.seq:
            return bad("checkpoint_mismatch", f"event {pending[0]}, recorded by a checkpoint, is gone", row)
        if pending and pending[0] == row.seq:
            if row.seq in conflicting or recorded[row.seq] != row.hash:
                return bad("checkpoint_mismatch", f"event {row.seq} differs from its checkpoint", row)
            pending.popleft()
        expected_prev, head_seq = row.hash, row.seq
    if pending:
        newest = max(recorded)
        return bad("events_removed", f"events after seq {head_seq} were removed (a checkpoint records seq {newest})")
    return answer


def verify_now(conn: sa.Connection) -> dict[str, Any]:
    """`verify` with this instance's key and checkpoint sink, reading only the checkpoints written
    since the stored anchor (all of them without a valid one), and moving the anchor to the newest
    checkpoint when the chain verifies. A failed verify leaves it, so the next call fails the same."""
    settings = get_settings()
    key = settings.audit_signing_key()
    sink = sink_for(settings)
    start = anchors.load(conn, key=key, sink=sink.name)
    reading = sink.read(after=start.cursor if start is not None else None)
    answer = verify(
        conn,
        key=key,
        checkpoints=reading.checkpoints,
        anchor=start.checkpoint if start is not None else None,
        ignored_checkpoints=reading.ignored,
    )
    newest = answer["last_checkpoint"]
    if answer["ok"] and newest is not None:
        reached = anchors.Anchor(sink.name, Checkpoint(newest["seq"], newest["hash"]), reading.cursor, utcnow())
        anchors.save(conn, reached, key=key)
    return answer
