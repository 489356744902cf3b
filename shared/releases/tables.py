"""The releases table."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID

from shared.names import SLUG_PATTERN
from shared.platform.db import metadata, one_of
from shared.releases.rules import KINDS, STATUSES

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("application", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    # SemVer precedence as a byte-ordered string (shared.releases.rules.version_sort_key).
    sa.Column("version_key", sa.Text(collation="C"), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("notes", sa.Text, nullable=False, server_default=""),
    sa.Column("source", JSONB),
    sa.Column("artifacts", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("kind", sa.Text, nullable=False, server_default="change"),
    # For a fix: the incident it fixes (required then).
    sa.Column("incident_url", sa.Text),
    sa.Column("created_by", UUID(as_uuid=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "search",
        TSVECTOR,
        sa.Computed("to_tsvector('english', title || ' ' || notes)", persisted=True),
        nullable=False,
    ),
    sa.UniqueConstraint("application", "version", name="uq_releases_application_version"),
    sa.CheckConstraint(one_of("status", STATUSES), name="status"),
    sa.CheckConstraint(one_of("kind", KINDS), name="kind"),
    sa.CheckConstraint("kind <> 'fix' OR incident_url IS NOT NULL", name="a_fix_names_its_incident"),
    sa.CheckConstraint(f"application ~ '{SLUG_PATTERN}'", name="application_slug"),
    sa.Index("ix_releases_created_at_id", "created_at", "id"),
    sa.Index("ix_releases_version_key_id", "version_key", "id"),
    sa.Index("ix_releases_application_created_at_id", "application", "created_at", "id"),
    sa.Index("ix_releases_application_version_key_id", "application", "version_key", "id"),
    sa.Index("ix_releases_search", "search", postgresql_using="gin"),
)
