"""weather and cloud maps: the observatory nodes' weather readings and all-sky cloud maps

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 22:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('weather_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_name', sa.String(length=63), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_weather_node_at', 'weather_history', ['node_name', 'measured_at'], unique=False)
    op.create_table('cloud_maps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_name', sa.String(length=63), nullable=False),
    sa.Column('source', sa.String(length=63), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('label', sa.String(length=20), nullable=False),
    sa.Column('cloud_fraction', sa.Float(), nullable=True),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_cloud_maps_node_at', 'cloud_maps', ['node_name', 'taken_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cloud_maps_node_at', table_name='cloud_maps')
    op.drop_table('cloud_maps')
    op.drop_index('ix_weather_node_at', table_name='weather_history')
    op.drop_table('weather_history')
