"""approval rules

A stage, and an environment policy, may ask for several approval rules, each `count` approvals from a
group (a team, or a role on the application), all of which must be met; one person's approval counts
for one rule only. Each approval records the groups its approver was in when they decided, and each
deployment the rules it waits for. No stage or policy has any rules after the upgrade (each keeps its
`required_approvals` and `approver_team`), and the approvals given before it count for any rule.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RULES = ('application_stages', 'environments', 'deployments')


def upgrade() -> None:
    for table in _RULES:
        op.add_column(
            table,
            sa.Column('approval_rules', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
        )
        op.create_check_constraint(
            op.f(f'ck_{table}_approval_rules_array'), table, "jsonb_typeof(approval_rules) = 'array'"
        )
    op.add_column('approvals', sa.Column('qualified_for', postgresql.ARRAY(sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column('approvals', 'qualified_for')
    for table in reversed(_RULES):
        op.drop_constraint(op.f(f'ck_{table}_approval_rules_array'), table, type_='check')
        op.drop_column(table, 'approval_rules')
