"""calibration library and live stacks

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 20:09:52.657168
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_stacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('night', sa.Date(), nullable=False),
    sa.Column('target_name', sa.String(length=200), nullable=False),
    sa.Column('filter_name', sa.String(length=60), nullable=False),
    sa.Column('n_frames', sa.Integer(), nullable=False),
    sa.Column('state_key', sa.String(length=1024), nullable=True),
    sa.Column('key', sa.String(length=1024), nullable=True),
    sa.Column('preview_key', sa.String(length=1024), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('live_stacks', schema=None) as batch_op:
        batch_op.create_index('ux_live_stacks', ['night', 'target_name', 'filter_name'], unique=True)

    op.create_table('masters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('group_path', sa.String(length=400), nullable=False),
    sa.Column('camera', sa.String(length=120), nullable=True),
    sa.Column('binning_x', sa.Integer(), nullable=True),
    sa.Column('binning_y', sa.Integer(), nullable=True),
    sa.Column('gain', sa.Float(), nullable=True),
    sa.Column('offset', sa.Float(), nullable=True),
    sa.Column('temperature', sa.Float(), nullable=True),
    sa.Column('exposure_s', sa.Float(), nullable=True),
    sa.Column('filter_name', sa.String(length=60), nullable=True),
    sa.Column('set_temp_c', sa.Float(), nullable=True),
    sa.Column('date_obs', sa.DateTime(timezone=True), nullable=True),
    sa.Column('n_inputs', sa.Integer(), nullable=False),
    sa.Column('inputs_sha256', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=1024), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('quality', sa.JSON(), nullable=True),
    sa.Column('bias_master_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bias_master_id'], ['masters.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('masters', schema=None) as batch_op:
        batch_op.create_index('ix_masters_group', ['group_path', 'superseded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_masters_kind'), ['kind'], unique=False)
        batch_op.create_index('ux_masters_inputs', ['group_path', 'inputs_sha256'], unique=True)

    op.create_table('frame_calibrations',
    sa.Column('frame_id', sa.Integer(), nullable=False),
    sa.Column('bias_id', sa.Integer(), nullable=True),
    sa.Column('dark_id', sa.Integer(), nullable=True),
    sa.Column('flat_id', sa.Integer(), nullable=True),
    sa.Column('dark_scale', sa.Float(), nullable=True),
    sa.Column('missing', sa.JSON(), nullable=True),
    sa.Column('calibrated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bias_id'], ['masters.id'], ),
    sa.ForeignKeyConstraint(['dark_id'], ['masters.id'], ),
    sa.ForeignKeyConstraint(['flat_id'], ['masters.id'], ),
    sa.ForeignKeyConstraint(['frame_id'], ['frames.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('frame_id')
    )
    op.create_table('live_stack_frames',
    sa.Column('stack_id', sa.Integer(), nullable=False),
    sa.Column('frame_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['frame_id'], ['frames.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stack_id'], ['live_stacks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('stack_id', 'frame_id')
    )
    op.create_table('master_inputs',
    sa.Column('master_id', sa.Integer(), nullable=False),
    sa.Column('frame_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['frame_id'], ['frames.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['master_id'], ['masters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('master_id', 'frame_id')
    )


def downgrade() -> None:
    op.drop_table('master_inputs')
    op.drop_table('live_stack_frames')
    op.drop_table('frame_calibrations')
    with op.batch_alter_table('masters', schema=None) as batch_op:
        batch_op.drop_index('ux_masters_inputs')
        batch_op.drop_index(batch_op.f('ix_masters_kind'))
        batch_op.drop_index('ix_masters_group')

    op.drop_table('masters')
    with op.batch_alter_table('live_stacks', schema=None) as batch_op:
        batch_op.drop_index('ux_live_stacks')

    op.drop_table('live_stacks')
