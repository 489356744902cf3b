"""Subscriptions, the event outbox and the delivery log.

`events` is the outbox: `audit.record` writes each event of an audited change in the change's own
transaction, with one `deliveries` row per subscription that wants it, so a change that rolls
back leaves neither and a crash after the commit loses nothing (dispatch finds what is due)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.events.rules import FORMATS
from shared.platform.db import metadata, one_of

DELIVERY_STATUSES = ("pending", "succeeded", "failed", "retrying")
DUE_STATUSES = ("pending", "retrying")

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    # Signs every delivery (HMAC needs the secret itself); shown once, never by the API again.
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("events", ARRAY(sa.Text), nullable=False),
    sa.Column("applications", ARRAY(sa.Text)),
    sa.Column("format", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(one_of("format", FORMATS), name="format_known"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("application", sa.Text),
    sa.Column("environment", sa.Text),
    # The event as it is sent: {id, type, timestamp, data}.
    sa.Column("body", JSONB, nullable=False),
    # Who may approve, for an approval request's chat message.
    sa.Column("approvers", sa.Text),
    # Null while the event still has to go to Pub/Sub.
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Index("ix_events_unpublished", "seq", postgresql_where=sa.text("published_at IS NULL")),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "subscription_id",
        UUID(as_uuid=True),
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_id", UUID(as_uuid=True), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("response_status", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    # A dispatcher's lease: until then the delivery is its alone (`lease` says whose).
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("lease", UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status_known"),
    sa.Index("ix_deliveries_subscription_id_created_at", "subscription_id", "created_at"),
    sa.Index(
        "ix_deliveries_due",
        "next_attempt_at",
        postgresql_where=sa.text(one_of("status", DUE_STATUSES)),
    ),
)
