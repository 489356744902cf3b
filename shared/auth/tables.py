"""Tables of accounts, refresh-token families, API tokens, teams and role bindings."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.auth.roles import ORDER
from shared.names import SLUG_PATTERN
from shared.platform.db import metadata, one_of

_role_check = one_of("role", ORDER)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    # Stored lower-cased: emails are unique without regard to case.
    sa.Column("email", sa.Text, nullable=False, unique=True),
    sa.Column("display_name", sa.Text, nullable=False),
    # NULL: the account signs in through Identity-Aware Proxy only (it was created by IAP).
    sa.Column("password_hash", sa.Text),
    # The IAP identity (`sub`) attached to the account: an assertion names the account by this, never
    # by email alone, so nobody can claim a colleague's account by registering her email first.
    sa.Column("iap_subject", sa.Text, unique=True),
    # Set by an admin on a password account: the next IAP assertion for its email attaches to it.
    sa.Column("iap_link_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # Bumped when a password changes or the user is deactivated: older access tokens stop working.
    sa.Column("auth_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(_role_check, name="role"),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # Every token descended from one login shares a family; reuse of a spent one revokes it whole.
    sa.Column("family_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Index("ix_refresh_tokens_user_id", "user_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("prefix", sa.Text, nullable=False, unique=True),
    sa.Column("token_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint(_role_check, name="role"),
)

# -- teams and role bindings ------------------------------------------------------------------------

SUBJECT_TYPES = ("user", "team", "service_account")

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("created_by", UUID(as_uuid=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(f"name ~ '{SLUG_PATTERN}'", name="name_slug"),
)

team_members = sa.Table(
    "team_members",
    metadata,
    sa.Column("team_id", UUID(as_uuid=True), sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    # The guard reads a user's teams on every cache miss of their state.
    sa.Index("ix_team_members_user_id", "user_id"),
)

bindings = sa.Table(
    "bindings",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    # Polymorphic (a user, a team or a service account), so no foreign key: the service checks it.
    sa.Column("subject_type", sa.Text, nullable=False),
    sa.Column("subject_id", UUID(as_uuid=True), nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    # NULL: every application; NULL environments: every environment.
    sa.Column("application", sa.Text),
    sa.Column("environments", ARRAY(sa.Text)),
    sa.Column("created_by", UUID(as_uuid=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(_role_check, name="role"),
    sa.CheckConstraint(one_of("subject_type", SUBJECT_TYPES), name="subject_type"),
    sa.CheckConstraint("environments IS NULL OR cardinality(environments) > 0", name="environments_not_empty"),
    sa.Index("ix_bindings_subject", "subject_type", "subject_id"),
    sa.Index("ix_bindings_application", "application"),
)

# -- service accounts ---------------------------------------------------------------------------------

service_accounts = sa.Table(
    "service_accounts",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("display_name", sa.Text, nullable=False),
    # [{issuer, subject, audience, claims}], each checked by `trust_entry_refusal` when saved.
    sa.Column("trust", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # Bumped on deactivation and on a change of trust: access tokens issued before stop at once.
    sa.Column("auth_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_by", UUID(as_uuid=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(f"name ~ '{SLUG_PATTERN}'", name="name_slug"),
)
