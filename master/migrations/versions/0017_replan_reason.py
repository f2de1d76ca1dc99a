"""replan reason: why a schedule was re-planned (by hand or by the master itself)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 07:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('sent_schedules', sa.Column('replan_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('sent_schedules', 'replan_reason')
