"""sites and equipment: horizon masks, camera gain/offset defaults, telescope node bindings

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('horizon', sa.JSON(), nullable=True))
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gain_default', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('offset_default', sa.Float(), nullable=True))
    op.create_table('telescope_nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_name', sa.String(length=63), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('telescope_id', sa.Integer(), nullable=True),
    sa.Column('camera_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
    sa.ForeignKeyConstraint(['telescope_id'], ['telescopes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('node_name')
    )
    with op.batch_alter_table('telescope_nodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telescope_nodes_site_id'), ['site_id'], unique=False)
    op.create_table('telescope_node_filters',
    sa.Column('telescope_node_id', sa.Integer(), nullable=False),
    sa.Column('filter_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['filter_id'], ['filters.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['telescope_node_id'], ['telescope_nodes.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('telescope_node_id', 'filter_id')
    )


def downgrade() -> None:
    op.drop_table('telescope_node_filters')
    with op.batch_alter_table('telescope_nodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telescope_nodes_site_id'))
    op.drop_table('telescope_nodes')
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_column('offset_default')
        batch_op.drop_column('gain_default')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('horizon')
