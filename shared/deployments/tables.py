"""Environments, deployments, approvals, freeze windows and locks."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.deployments.rules import ACTIVE, DECISIONS, KINDS, RULES, STATUSES
from shared.names import SLUG_PATTERN
from shared.platform.db import metadata, one_of

environments = sa.Table(
    "environments",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False, unique=True),
    sa.Column("required_approvals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("soak_minutes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # The environment's policy (organisation-wide admins): the floor of every application's stage here.
    sa.Column("min_approvals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("approver_team", sa.Text, sa.ForeignKey("teams.name", onupdate="CASCADE")),
    sa.Column("skippable", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("policy_updated_at", sa.DateTime(timezone=True)),
    # A deployment waiting here (pending_approval, queued) that nobody moved for this long expires.
    sa.Column("expire_after_hours", sa.Integer, nullable=False, server_default="24"),
    # Deploy windows: weekly wall-clock windows in a zone when work may start here (NULL: any time),
    # and what a request outside them gets: refused, or accepted with its start held until one opens.
    sa.Column("deploy_windows", JSONB(none_as_null=True)),
    sa.Column("windows_timezone", sa.Text),
    sa.Column("outside_window", sa.Text, nullable=False, server_default="refuse"),
    # Approval rules every stage here meets on top of its own: [{count, team, role}].
    sa.Column("approval_rules", JSONB, nullable=False, server_default="[]"),
    sa.CheckConstraint("required_approvals >= 0 AND soak_minutes >= 0", name="non_negative"),
    sa.CheckConstraint("min_approvals >= 0", name="min_approvals_non_negative"),
    sa.CheckConstraint("expire_after_hours >= 1", name="expire_after_hours_positive"),
    sa.CheckConstraint("deploy_windows IS NULL OR windows_timezone IS NOT NULL", name="windows_have_a_zone"),
    sa.CheckConstraint("outside_window IN ('refuse', 'wait')", name="outside_window"),
    sa.CheckConstraint("jsonb_typeof(approval_rules) = 'array'", name="approval_rules_array"),
    sa.CheckConstraint(f"name ~ '{SLUG_PATTERN}'", name="name_slug"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("release_id", UUID(as_uuid=True), sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("application", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, sa.ForeignKey("environments.name", onupdate="CASCADE"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("requested_by", UUID(as_uuid=True), nullable=False),
    # A stage's rule that requested it by itself (`requested_by` is then the nil UUID); NULL: a caller did.
    sa.Column("requested_by_rule", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("override_freeze", sa.Boolean, nullable=False, server_default=sa.false()),
    # The freeze windows the request overrode: an override holds for those, never for a later one.
    sa.Column("overridden_freezes", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    # The locks the request overrode (an admin, with the request's reason): the same rule as freezes.
    sa.Column("overridden_locks", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    # For a rollback: the live deployment it replaces (marked rolled_back when the rollback succeeds).
    sa.Column("replaces_id", UUID(as_uuid=True), sa.ForeignKey("deployments.id")),
    # The hotfix lane: the stages before this one its request skipped (by their skippable_by, with its reason).
    sa.Column("skipped_stages", ARRAY(sa.Text), nullable=False, server_default="{}"),
    # The approval rules it waits for, as of its request or its last decision: [{count, team, role}].
    sa.Column("approval_rules", JSONB, nullable=False, server_default="[]"),
    sa.Column("log_url", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint(one_of("kind", KINDS), name="kind"),
    sa.CheckConstraint("jsonb_typeof(approval_rules) = 'array'", name="approval_rules_array"),
    sa.CheckConstraint(one_of("status", STATUSES), name="status"),
    sa.CheckConstraint(f"requested_by_rule IS NULL OR {one_of('requested_by_rule', RULES)}", name="requested_by_rule"),
    # The database itself guarantees one deployment under way per application and environment.
    sa.Index(
        "uq_deployments_one_active",
        "application",
        "environment",
        unique=True,
        postgresql_where=sa.text(one_of("status", ACTIVE)),
    ),
    # A rule promotes a release to a stage once, however many dispatchers run at the same moment.
    sa.Index(
        "uq_deployments_one_promotion",
        "release_id",
        "environment",
        unique=True,
        postgresql_where=sa.text("requested_by_rule IN ('auto_promote', 'train')"),
    ),
    sa.Index("ix_deployments_release_id_environment", "release_id", "environment", "created_at"),
    sa.Index("ix_deployments_application_environment_finished", "application", "environment", "finished_at"),
    sa.Index("ix_deployments_environment_status_finished", "environment", "status", "finished_at"),
    sa.Index("ix_deployments_created_at_id", "created_at", "id"),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("deployment_id", UUID(as_uuid=True), sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("user_id", UUID(as_uuid=True), nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    # The groups (`team:<name>`, `role:<role>`) the approver was in when they decided; NULL: decided
    # before approvals had groups (it counts for any rule).
    sa.Column("qualified_for", ARRAY(sa.Text)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("deployment_id", "user_id", name="uq_approvals_one_decision_per_person"),
    sa.CheckConstraint(one_of("decision", DECISIONS), name="decision"),
)

freezes = sa.Table(
    "freezes",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    # NULL: every environment.
    sa.Column("environment", sa.Text, sa.ForeignKey("environments.name", onupdate="CASCADE")),
    # NULL: every application.
    sa.Column("application", sa.Text, sa.ForeignKey("applications.name", onupdate="CASCADE")),
    sa.Column("starts_at", sa.DateTime(timezone=True)),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("weekly", JSONB),
    sa.Column("timezone", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    # True: a release of kind `fix` deploys through it without an override.
    sa.Column("allow_fixes", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_by", UUID(as_uuid=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "(weekly IS NULL AND starts_at IS NOT NULL AND ends_at IS NOT NULL AND ends_at > starts_at) "
        "OR (weekly IS NOT NULL AND timezone IS NOT NULL)",
        name="one_off_or_weekly",
    ),
)

# "Stop the line": while a lock holds, nothing new starts in its environment (for its application, or
# every one). Unlocked locks stay, as the record of who stopped what, when and why.
environment_locks = sa.Table(
    "environment_locks",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("environment", sa.Text, sa.ForeignKey("environments.name", onupdate="CASCADE"), nullable=False),
    # NULL: every application.
    sa.Column("application", sa.Text, sa.ForeignKey("applications.name", onupdate="CASCADE")),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("locked_by", UUID(as_uuid=True), nullable=False),
    sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
    # It unlocks itself then (NULL: only someone unlocking it ends it).
    sa.Column("unlock_at", sa.DateTime(timezone=True)),
    sa.Column("unlocked_by", UUID(as_uuid=True)),
    sa.Column("unlocked_at", sa.DateTime(timezone=True)),
    sa.Column("unlock_reason", sa.Text),
    sa.CheckConstraint("unlock_at IS NULL OR unlock_at > locked_at", name="unlocks_after_it_locks"),
    sa.CheckConstraint("(unlocked_at IS NULL) = (unlocked_by IS NULL)", name="unlocked_by_someone"),
    sa.Index("ix_environment_locks_environment_unlocked_at", "environment", "unlocked_at"),
    sa.Index("ix_environment_locks_locked_at_id", "locked_at", "id"),
)

# Binary Authorization: one attestation per image of a deployment that may run, in an attested environment.
attestations = sa.Table(
    "attestations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("deployment_id", UUID(as_uuid=True), sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("digest", sa.Text, nullable=False),
    # `https://HOST/PATH@sha256:...`: the image as Container Analysis and Binary Authorization name it.
    sa.Column("resource_uri", sa.Text, nullable=False),
    # pending (to be signed), attested, or abandoned (its deployment ended, or its release was
    # cancelled, before it was signed: it never will be).
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary),
    sa.Column("signature", sa.LargeBinary),
    sa.Column("public_key_id", sa.Text),
    sa.Column("occurrence", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attested_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("deployment_id", "digest", name="uq_attestations_deployment_digest"),
    sa.CheckConstraint("status IN ('pending', 'attested', 'abandoned')", name="status"),
    sa.Index("ix_attestations_pending", "created_at", postgresql_where=sa.text("status = 'pending'")),
    sa.Index("ix_attestations_digest_environment", "digest", "environment"),
)

# What Cloud Run's and GKE's admin activity showed deployed: one row per pushed message and image.
drift_observations = sa.Table(
    "drift_observations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("resource", sa.Text, nullable=False),
    sa.Column("application", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("image", sa.Text, nullable=False),
    sa.Column("digest", sa.Text),
    # matched: a deployment that passed the gates (`deployment_id`) ran it; drift: none did.
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("deployment_id", UUID(as_uuid=True), sa.ForeignKey("deployments.id")),
    sa.Column("actor", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("message_id", "image", name="uq_drift_observations_message_image"),
    sa.CheckConstraint("verdict IN ('matched', 'drift')", name="verdict"),
    sa.Index("ix_drift_observations_environment_created_at", "environment", "created_at"),
)

DEFAULT_ENVIRONMENTS = [
    {"name": "dev", "position": 1, "required_approvals": 0, "soak_minutes": 0},
    {"name": "staging", "position": 2, "required_approvals": 0, "soak_minutes": 0},
    {"name": "production", "position": 3, "required_approvals": 1, "soak_minutes": 0},
]
