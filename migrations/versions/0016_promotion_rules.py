"""promotion that moves by itself

A stage may auto-promote (from the stage before it, at once or on a train's timetable: a cron
expression in an IANA zone) and may have a failure's rollback requested by itself; a deployment
names the rule that requested it, and a rule promotes a release to a stage once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('application_stages', sa.Column('auto_promote', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('application_stages', sa.Column('train_schedule', sa.Text(), nullable=True))
    op.add_column('application_stages', sa.Column('train_timezone', sa.Text(), nullable=True))
    op.add_column('application_stages', sa.Column('auto_rollback', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_check_constraint(
        op.f('ck_application_stages_train_is_auto_promotion'),
        'application_stages',
        '(train_schedule IS NULL) = (train_timezone IS NULL) AND (train_schedule IS NULL OR auto_promote)',
    )
    op.add_column('deployments', sa.Column('requested_by_rule', sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f('ck_deployments_requested_by_rule'),
        'deployments',
        "requested_by_rule IS NULL OR requested_by_rule IN ('auto_promote', 'train', 'auto_rollback')",
    )
    op.create_index(
        'uq_deployments_one_promotion',
        'deployments',
        ['release_id', 'environment'],
        unique=True,
        postgresql_where=sa.text("requested_by_rule IN ('auto_promote', 'train')"),
    )


def downgrade() -> None:
    op.drop_index('uq_deployments_one_promotion', table_name='deployments')
    op.drop_constraint(op.f('ck_deployments_requested_by_rule'), 'deployments', type_='check')
    op.drop_column('deployments', 'requested_by_rule')
    op.drop_constraint(op.f('ck_application_stages_train_is_auto_promotion'), 'application_stages', type_='check')
    for column in ('auto_rollback', 'train_timezone', 'train_schedule', 'auto_promote'):
        op.drop_column('application_stages', column)
