"""Applications and their own promotion paths.

A path is a table of stages rather than a JSON column: each stage's environment and approver team
are foreign keys, so the database refuses a stage naming an environment or team that does not
exist, follows an environment's rename, and a gate reads one application's stages by its index.
An application without stages follows the environments catalogue (the default path)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from shared.names import SLUG_PATTERN
from shared.platform.db import metadata

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(f"name ~ '{SLUG_PATTERN}'", name="name_slug"),
)

application_stages = sa.Table(
    "application_stages",
    metadata,
    sa.Column(
        "application",
        sa.Text,
        sa.ForeignKey("applications.name", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column(
        "environment",
        sa.Text,
        sa.ForeignKey("environments.name", onupdate="CASCADE"),
        nullable=False,
    ),
    sa.Column("required_approvals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("soak_minutes", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "approver_team",
        sa.Text,
        sa.ForeignKey("teams.name", onupdate="CASCADE"),
    ),
    # False (forward-only): an older release than the live one goes back only as a rollback.
    sa.Column("allow_older", sa.Boolean, nullable=False, server_default=sa.false()),
    # Approval rules ("1 from qa and 2 from sre"), all to be met: [{count, team, role}]; empty: the
    # stage asks `required_approvals` from anyone `approver_team` admits. Teams are checked on write
    # (teams are never renamed nor deleted).
    sa.Column("approval_rules", JSONB, nullable=False, server_default="[]"),
    # The hotfix lane: who (this role or more) may skip this stage, with a reason; NULL: no one.
    sa.Column("skippable_by", sa.Text),
    # Auto-promotion from the stage before: at once, or on a train's timetable (cron in an IANA zone).
    sa.Column("auto_promote", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("train_schedule", sa.Text),
    sa.Column("train_timezone", sa.Text),
    # A failure reported here has the rollback to the last good release requested.
    sa.Column("auto_rollback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("application", "environment", name="uq_application_stages_environment"),
    sa.CheckConstraint("jsonb_typeof(approval_rules) = 'array'", name="approval_rules_array"),
    sa.CheckConstraint("skippable_by IN ('release_manager', 'admin')", name="skippable_by"),
    sa.CheckConstraint("required_approvals >= 0 AND soak_minutes >= 0", name="non_negative"),
    sa.CheckConstraint(
        "(train_schedule IS NULL) = (train_timezone IS NULL) AND (train_schedule IS NULL OR auto_promote)",
        name="train_is_auto_promotion",
    ),
)
