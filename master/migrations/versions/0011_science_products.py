"""science products: SER captures, photometry runs, products and their inputs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 20:10:10.518187
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('photometry_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_name', sa.String(length=200), nullable=False),
    sa.Column('ra_deg', sa.Float(), nullable=True),
    sa.Column('dec_deg', sa.Float(), nullable=True),
    sa.Column('target_x', sa.Float(), nullable=True),
    sa.Column('target_y', sa.Float(), nullable=True),
    sa.Column('comparisons', sa.JSON(), nullable=True),
    sa.Column('aperture_fwhm', sa.Float(), nullable=False),
    sa.Column('annulus_inner_fwhm', sa.Float(), nullable=False),
    sa.Column('annulus_outer_fwhm', sa.Float(), nullable=False),
    sa.Column('filter_name', sa.String(length=60), nullable=True),
    sa.Column('obscode', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('frames_used', sa.Integer(), nullable=True),
    sa.Column('frames_rejected', sa.JSON(), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('photometry_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photometry_runs_target_name'), ['target_name'], unique=False)

    op.create_table('ser_captures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=1024), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('original_name', sa.String(length=512), nullable=True),
    sa.Column('node_name', sa.String(length=63), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('frame_count', sa.Integer(), nullable=False),
    sa.Column('pixel_depth', sa.Integer(), nullable=False),
    sa.Column('color', sa.String(length=20), nullable=False),
    sa.Column('observer', sa.String(length=40), nullable=True),
    sa.Column('instrument', sa.String(length=40), nullable=True),
    sa.Column('telescope', sa.String(length=40), nullable=True),
    sa.Column('start_utc', sa.DateTime(timezone=True), nullable=True),
    sa.Column('night', sa.Date(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    op.create_table('products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=1024), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('photometry_run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['photometry_run_id'], ['photometry_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_products_photometry_run_id'), ['photometry_run_id'], unique=False)

    op.create_table('product_inputs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('frame_id', sa.Integer(), nullable=True),
    sa.Column('ser_capture_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['frame_id'], ['frames.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ser_capture_id'], ['ser_captures.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('product_inputs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_inputs_frame_id'), ['frame_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_inputs_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_inputs_ser_capture_id'), ['ser_capture_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('product_inputs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_inputs_ser_capture_id'))
        batch_op.drop_index(batch_op.f('ix_product_inputs_product_id'))
        batch_op.drop_index(batch_op.f('ix_product_inputs_frame_id'))

    op.drop_table('product_inputs')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_photometry_run_id'))

    op.drop_table('products')
    op.drop_table('ser_captures')
    with op.batch_alter_table('photometry_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photometry_runs_target_name'))

    op.drop_table('photometry_runs')
