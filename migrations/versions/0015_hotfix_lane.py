"""the hotfix lane

A stage may name who may skip it (`skippable_by`: a role, which a person holds where the release
goes) on the way to a later stage, with a reason; each deployment records the stages its request
skipped. No stage may be skipped after the upgrade.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('application_stages', sa.Column('skippable_by', sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f('ck_application_stages_skippable_by'), 'application_stages', "skippable_by IN ('release_manager', 'admin')"
    )
    op.add_column(
        'deployments',
        sa.Column('skipped_stages', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    )


def downgrade() -> None:
    op.drop_column('deployments', 'skipped_stages')
    op.drop_constraint(op.f('ck_application_stages_skippable_by'), 'application_stages', type_='check')
    op.drop_column('application_stages', 'skippable_by')
