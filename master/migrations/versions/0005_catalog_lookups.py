"""catalog lookups: the cache of online (CDS Sesame) name lookups

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalog_lookups',
    sa.Column('query_key', sa.String(length=200), nullable=False),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('query_key')
    )


def downgrade() -> None:
    op.drop_table('catalog_lookups')
