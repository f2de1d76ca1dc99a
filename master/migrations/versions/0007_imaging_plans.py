"""imaging plans: per target, rows of filter × exposure × count, priority and constraints

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('imaging_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('min_altitude_deg', sa.Float(), nullable=False),
    sa.Column('max_airmass', sa.Float(), nullable=True),
    sa.Column('min_moon_separation_deg', sa.Float(), nullable=False),
    sa.Column('twilight', sa.String(length=12), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['targets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('imaging_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imaging_plans_target_id'), ['target_id'], unique=False)
    op.create_table('plan_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('filter_name', sa.String(length=60), nullable=True),
    sa.Column('exposure_s', sa.Float(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['imaging_plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('plan_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_rows_plan_id'), ['plan_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('plan_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_rows_plan_id'))
    op.drop_table('plan_rows')
    with op.batch_alter_table('imaging_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imaging_plans_target_id'))
    op.drop_table('imaging_plans')
