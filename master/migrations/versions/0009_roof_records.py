"""roof records: roof state history and people's roof commands with the nodes' answers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 19:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('roof_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_name', sa.String(length=63), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('activity', sa.String(length=20), nullable=False),
    sa.Column('alarm', sa.Text(), nullable=True),
    sa.Column('alarm_level', sa.String(length=10), nullable=True),
    sa.Column('mount_parked', sa.JSON(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_roof_node_at', 'roof_history', ['node_name', 'at'], unique=False)
    op.create_table('roof_commands',
    sa.Column('command_id', sa.String(length=64), nullable=False),
    sa.Column('node_name', sa.String(length=63), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('user_name', sa.String(length=120), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('command_id')
    )
    op.create_index(op.f('ix_roof_commands_node_name'), 'roof_commands', ['node_name'], unique=False)
    op.create_index(op.f('ix_roof_commands_sent_at'), 'roof_commands', ['sent_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_roof_commands_sent_at'), table_name='roof_commands')
    op.drop_index(op.f('ix_roof_commands_node_name'), table_name='roof_commands')
    op.drop_table('roof_commands')
    op.drop_index('ix_roof_node_at', table_name='roof_history')
    op.drop_table('roof_history')
