"""the audit anchor (where verify got to) and the pgaudit extension

`audit_anchor` is new and starts empty: the first verify after the upgrade reads every checkpoint
once, as before, and later ones only what was written since. pgaudit: Cloud SQL's
`cloudsql.enable_pgaudit` flag loads the library, and `pgaudit.log` (terraform/sql.tf) is read only
once the extension exists in the database, which only CREATE EXTENSION does.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Only where the server can load it: a PostgreSQL without the pgaudit package (a developer's, the
# tests') has nothing to create, and one that has it installed but not in shared_preload_libraries
# refuses CREATE EXTENSION. On Cloud SQL (cloudsqlsuperuser exists) the flag preloads it, so there
# the extension is always created, and a missing flag fails the migration rather than passing silently.
PGAUDIT = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgaudit')
       AND (
           'pgaudit' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
           OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cloudsqlsuperuser')
       )
    THEN
        CREATE EXTENSION IF NOT EXISTS pgaudit;
    END IF;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_anchor",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("sink", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mac", sa.Text(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_anchor_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchor")),
    )
    op.execute(PGAUDIT)


def downgrade() -> None:
    # pgaudit stays: it records privilege changes, the downgrade's own included.
    op.drop_table("audit_anchor")
