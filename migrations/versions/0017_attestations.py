"""Binary Authorization attestations, and deploys observed around the gates

A deployment that may run (queued) in an attested environment has one attestation per image of
its release: pending until Cloud KMS has signed it and Container Analysis holds it. What Cloud
Run's and GKE's admin activity shows deployed is recorded, matched or drift.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'attestations',
        sa.Column('id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('deployment_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('environment', sa.Text(), nullable=False),
        sa.Column('digest', sa.Text(), nullable=False),
        sa.Column('resource_uri', sa.Text(), nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('payload', sa.LargeBinary(), nullable=True),
        sa.Column('signature', sa.LargeBinary(), nullable=True),
        sa.Column('public_key_id', sa.Text(), nullable=True),
        sa.Column('occurrence', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attested_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'attested', 'abandoned')", name=op.f('ck_attestations_status')),
        sa.ForeignKeyConstraint(
            ['deployment_id'], ['deployments.id'], name=op.f('fk_attestations_deployment_id_deployments')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attestations')),
        sa.UniqueConstraint('deployment_id', 'digest', name='uq_attestations_deployment_digest'),
    )
    op.create_index(
        'ix_attestations_pending', 'attestations', ['created_at'], postgresql_where=sa.text("status = 'pending'")
    )
    op.create_index('ix_attestations_digest_environment', 'attestations', ['digest', 'environment'])
    op.create_table(
        'drift_observations',
        sa.Column('id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('message_id', sa.Text(), nullable=False),
        sa.Column('platform', sa.Text(), nullable=False),
        sa.Column('resource', sa.Text(), nullable=False),
        sa.Column('application', sa.Text(), nullable=False),
        sa.Column('environment', sa.Text(), nullable=False),
        sa.Column('image', sa.Text(), nullable=False),
        sa.Column('digest', sa.Text(), nullable=True),
        sa.Column('verdict', sa.Text(), nullable=False),
        sa.Column('deployment_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('actor', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("verdict IN ('matched', 'drift')", name=op.f('ck_drift_observations_verdict')),
        sa.ForeignKeyConstraint(
            ['deployment_id'], ['deployments.id'], name=op.f('fk_drift_observations_deployment_id_deployments')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_observations')),
        sa.UniqueConstraint('message_id', 'image', name='uq_drift_observations_message_image'),
    )
    op.create_index(
        'ix_drift_observations_environment_created_at', 'drift_observations', ['environment', 'created_at']
    )


def downgrade() -> None:
    op.drop_index('ix_drift_observations_environment_created_at', table_name='drift_observations')
    op.drop_table('drift_observations')
    op.drop_index('ix_attestations_digest_environment', table_name='attestations')
    op.drop_index('ix_attestations_pending', table_name='attestations')
    op.drop_table('attestations')
