"""sent schedules: what the portal's night planner sent to each telescope node

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sent_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('node_name', sa.String(length=63), nullable=False),
    sa.Column('night', sa.Date(), nullable=False),
    sa.Column('site_name', sa.String(length=120), nullable=True),
    sa.Column('sent_by', sa.String(length=80), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('job', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id')
    )
    with op.batch_alter_table('sent_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sent_schedules_node_name'), ['node_name'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sent_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sent_schedules_node_name'))
    op.drop_table('sent_schedules')
