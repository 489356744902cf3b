"""audit events say how their hash was made (plain SHA-256 before, HMAC-SHA256 from now on)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing events keep their plain SHA-256 hashes and are marked 1. Adding a column with a
    # constant default rewrites no row (so the append-only trigger is not involved); the default
    # is then dropped, so every new event must say how it was hashed.
    op.add_column("audit_events", sa.Column("hash_version", sa.SmallInteger(), server_default="1", nullable=False))
    op.alter_column("audit_events", "hash_version", server_default=None)
    op.create_check_constraint("hash_version", "audit_events", "hash_version IN (1, 2)")


def downgrade() -> None:
    op.drop_constraint("hash_version", "audit_events", type_="check")
    op.drop_column("audit_events", "hash_version")
