"""frames.public: a frame anonymous visitors may view

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-01 22:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('frames', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_frames_public', ['public'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('frames', schema=None) as batch_op:
        batch_op.drop_index('ix_frames_public')
        batch_op.drop_column('public')
