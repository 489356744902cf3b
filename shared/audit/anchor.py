"""Where `verify` got to: the newest checkpoint it matched against the chain, and the sink's cursor
after it, kept in `audit_anchor` so the next call reads only checkpoints written since.

The row carries a MAC (HMAC-SHA256 with AUDIT_KEY over every other field), so whoever holds the
database but not the key cannot move it forward past checkpoints they want unread. A row that does
not verify, or that was taken from another sink, is ignored: verify then reads every checkpoint,
as on its first call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from shared.audit.checkpoints import Checkpoint
from shared.audit.tables import audit_anchor

_MAC_CONTEXT = b"audit-anchor\n"
_ROW = 1  # the table's one row


@dataclass(frozen=True)
class Anchor:
    sink: str
    checkpoint: Checkpoint
    cursor: str | None
    verified_at: datetime


def anchor_mac(key: bytes, anchor: Anchor) -> str:
    fields = [
        anchor.sink,
        anchor.checkpoint.seq,
        anchor.checkpoint.hash,
        anchor.cursor,
        anchor.verified_at.astimezone(UTC).isoformat(),
    ]
    return hmac.new(key, _MAC_CONTEXT + json.dumps(fields).encode(), hashlib.sha256).hexdigest()


def load(conn: sa.Connection, *, key: bytes, sink: str) -> Anchor | None:
    """The stored anchor of `sink`, or None when there is none or it does not verify."""
    row = conn.execute(sa.select(audit_anchor).where(audit_anchor.c.id == _ROW)).first()
    if row is None or row.sink != sink:
        return None
    anchor = Anchor(row.sink, Checkpoint(int(row.seq), row.hash), row.cursor, row.verified_at)
    return anchor if hmac.compare_digest(row.mac, anchor_mac(key, anchor)) else None


def save(conn: sa.Connection, anchor: Anchor, *, key: bytes) -> None:
    values = {
        "sink": anchor.sink,
        "seq": anchor.checkpoint.seq,
        "hash": anchor.checkpoint.hash,
        "cursor": anchor.cursor,
        "verified_at": anchor.verified_at,
        "mac": anchor_mac(key, anchor),
    }
    statement = insert(audit_anchor).values(id=_ROW, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=[audit_anchor.c.id], set_=values))
