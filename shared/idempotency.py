"""Idempotency-Key for creating POSTs: the same key and body replay the first response for 24 h.

The key row is inserted in the same transaction as the change it guards, so the change, its
audit event and its idempotency record are all committed or none is. A second request with the
same key waits on the first one's row (the unique index), then replays what it committed.

A secret shown once (an API token, a subscription's signing secret) is never stored here: the
replay has the same status and body with that field `null` and a `note` saying why, as GitHub and
Stripe never show a secret twice.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pydantic_core
import sqlalchemy as sa
from flask import Response
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import etags
from shared.errors import BadRequest, Invalid
from shared.platform.db import metadata
from shared.platform.work import UnitOfWork

KEEP_FOR = timedelta(hours=24)
PURGE_EVERY = 100
_claims = itertools.count(1)
_KEY = re.compile(r"[ -~]{1,255}")
_REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("caller", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("status", sa.Integer),
    sa.Column("headers", sa.JSON),
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What "the same request" means: the same verb, path and (canonical) body."""
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


def validate_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1 to 255 printable characters.", code="invalid_idempotency_key")
    return key


def purge_expired(conn: sa.Connection, *, now: datetime, limit: int = 500) -> int:
    """Delete up to `limit` records older than 24 h (oldest first, by the created_at index)."""
    expired = sa.select(idempotency_keys.c.caller, idempotency_keys.c.key).where(
        idempotency_keys.c.created_at < now - KEEP_FOR
    )
    doomed = expired.order_by(idempotency_keys.c.created_at).limit(limit).subquery()
    result = conn.execute(
        sa.delete(idempotency_keys).where(
            sa.tuple_(idempotency_keys.c.caller, idempotency_keys.c.key).in_(sa.select(doomed.c.caller, doomed.c.key))
        )
    )
    return int(result.rowcount or 0)


def claim(work: UnitOfWork, *, caller: str, key: str, request_fingerprint: str) -> Response | None:
    """Reserve `key` for this request, or return the response stored for it earlier."""
    if next(_claims) % PURGE_EVERY == 0:
        # No scheduler needed: every so often a request clears a bounded batch of expired records.
        purge_expired(work.conn, now=work.now)
    work.conn.execute(
        sa.delete(idempotency_keys).where(
            idempotency_keys.c.caller == caller,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at < work.now - KEEP_FOR,
        )
    )
    inserted = work.conn.execute(
        pg_insert(idempotency_keys)
        .values(caller=caller, key=key, fingerprint=request_fingerprint, created_at=work.now)
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    ).first()
    if inserted is not None:
        return None
    stored = work.conn.execute(
        sa.select(idempotency_keys).where(idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
    ).one()
    if stored.fingerprint != request_fingerprint:
        raise Invalid(
            "This Idempotency-Key was used with a different request.",
            code="idempotency_key_reused",
        )
    return replay(stored)


def replay(stored: Any) -> Response:
    response = Response(stored.body, status=stored.status)
    response.headers.update(stored.headers or {})
    response.headers["Idempotent-Replayed"] = "true"
    return response


def withheld(body: bytes, fields: Sequence[str]) -> tuple[bytes, str]:
    """A JSON object body with `fields` set to null and a `note`, and its ETag."""
    document = json.loads(body)
    for name in fields:
        document[name] = None
    names = ", ".join(f"`{name}`" for name in fields)
    document["note"] = (
        f"This replays an earlier request with the same Idempotency-Key. {names} was shown only in "
        "the first response and is not kept here; if it was lost, delete what this request created and create another."
    )
    return pydantic_core.to_json(document), f'"{etags.etag(document)}"'


def remember(work: UnitOfWork, *, caller: str, key: str, response: Response, withhold: Sequence[str] = ()) -> None:
    """Store the response to replay (called before the transaction commits), without the `withhold` fields."""
    headers = {name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers}
    body = response.get_data()
    if withhold:
        body, headers["ETag"] = withheld(body, withhold)
    work.conn.execute(
        sa.update(idempotency_keys)
        .where(idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
        .values(status=response.status_code, headers=headers, body=body)
    )
