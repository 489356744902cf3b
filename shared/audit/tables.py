"""The append-only, hash-chained audit log."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.platform.db import metadata

audit_events = sa.Table(
    "audit_events",
    metadata,
    # `seq` orders the chain; `id` is the public identifier.
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("data", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("request_id", sa.Text),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    # How `hash` was made: 1 = plain SHA-256 (events written before the chain was keyed),
    # 2 = HMAC-SHA256 with AUDIT_KEY. Set explicitly on every insert.
    sa.Column("hash_version", sa.SmallInteger, nullable=False),
    sa.CheckConstraint("hash_version IN (1, 2)", name="hash_version"),
    sa.Index("ix_audit_events_entity", "entity_type", "entity_id", "seq"),
    sa.Index("ix_audit_events_actor_seq", "actor", "seq"),
    sa.Index("ix_audit_events_occurred_at", "occurred_at"),
)

# Where `verify` got to: the newest checkpoint it matched against the chain, and where in the sink
# the next read starts (`cursor`), so a call reads only checkpoints written since, not the bucket's
# whole retention. One row. `mac` is HMAC-SHA256 with AUDIT_KEY over the other fields: a database
# owner can delete the row or put an older one back (verify then reads further back, nothing
# worse) but cannot move it forward past checkpoints it wants unread.
audit_anchor = sa.Table(
    "audit_anchor",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("sink", sa.Text, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.Column("cursor", sa.Text),
    sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("mac", sa.Text, nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)

# Installed by the migration: no role the application uses may rewrite history.
IMMUTABLE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
