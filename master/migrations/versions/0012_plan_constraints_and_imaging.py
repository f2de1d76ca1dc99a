"""imaging plans: moon illumination, time-of-night window, dither, focus, calibration; rows: binning, gain, offset

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 22:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

PLAN_COLUMNS = (
    ('max_moon_illumination', sa.Float(), {}),
    ('night_from', sa.Time(), {}),
    ('night_until', sa.Time(), {}),
    ('dither_every', sa.Integer(), {}),
    ('focus_at_start', sa.Boolean(), {'nullable': False, 'server_default': sa.false()}),
    ('focus_every_min', sa.Float(), {}),
    ('focus_temp_delta', sa.Float(), {}),
    ('calib_darks', sa.Integer(), {'nullable': False, 'server_default': '0'}),
    ('calib_flats', sa.Integer(), {'nullable': False, 'server_default': '0'}),
    ('flat_exposure_s', sa.Float(), {}),
)
ROW_COLUMNS = (
    ('binning', sa.Integer(), {'nullable': False, 'server_default': '1'}),
    ('gain', sa.Float(), {}),
    ('offset', sa.Float(), {}),
)


def upgrade() -> None:
    for table, columns in (('imaging_plans', PLAN_COLUMNS), ('plan_rows', ROW_COLUMNS)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, kind, options in columns:
                batch_op.add_column(sa.Column(name, kind, nullable=options.get('nullable', True),
                                              server_default=options.get('server_default')))


def downgrade() -> None:
    for table, columns in (('plan_rows', ROW_COLUMNS), ('imaging_plans', PLAN_COLUMNS)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _kind, _options in reversed(columns):
                batch_op.drop_column(name)
