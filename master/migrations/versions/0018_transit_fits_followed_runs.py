"""transit_fits: transit fits of photometry runs' light curves; photometry_runs.follow;
sent_schedules.blocks (the block times as planned when sent)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 07:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'transit_fits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('photometry_run_id', sa.Integer(), nullable=False),
        sa.Column('planet_name', sa.String(length=120), nullable=False),
        sa.Column('priors', sa.JSON(), nullable=False),
        sa.Column('mcmc_steps', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('created_by', sa.String(length=120), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['photometry_run_id'], ['photometry_runs.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('transit_fits', schema=None) as batch_op:
        batch_op.create_index('ix_transit_fits_photometry_run_id', ['photometry_run_id'], unique=False)
    with op.batch_alter_table('photometry_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('sent_schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocks', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sent_schedules', schema=None) as batch_op:
        batch_op.drop_column('blocks')
    with op.batch_alter_table('photometry_runs', schema=None) as batch_op:
        batch_op.drop_column('follow')
    with op.batch_alter_table('transit_fits', schema=None) as batch_op:
        batch_op.drop_index('ix_transit_fits_photometry_run_id')
    op.drop_table('transit_fits')
