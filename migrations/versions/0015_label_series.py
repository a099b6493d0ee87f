"""label series: parent codes reserved for printing (issue 22)

label_counters holds each prefix's next number (its row is locked while a series is
reserved); label_series the reservations; label_codes every code handed out, unique, so that
no code is ever given to two series, even by two requests at once.

Revision ID: 0015_label_series
Revises: 0011_time_made
Create Date: 2026-12-05 05:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015_label_series'
down_revision = "0014_dispatch_summary"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('label_counters',
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('next_number', sa.Integer(), nullable=False),
    sa.CheckConstraint('next_number >= 1', name=op.f('ck_label_counters_next_number_positive')),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_label_counters'))
    )
    op.create_table('label_series',
    sa.Column('id', BIGINT, nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_code', sa.String(length=64), nullable=False),
    sa.Column('last_code', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('count BETWEEN 1 AND 1000', name=op.f('ck_label_series_count_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_label_series_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_series'))
    )
    op.create_index('ix_label_series_created_at', 'label_series', ['created_at'], unique=False)
    op.create_table('label_codes',
    sa.Column('id', BIGINT, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('series_id', BIGINT, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['label_series.id'], name=op.f('fk_label_codes_series_id_label_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_label_codes_code'))
    )
    op.create_index('ix_label_codes_series_id_position', 'label_codes', ['series_id', 'position'], unique=True)


def downgrade():
    op.drop_index('ix_label_codes_series_id_position', table_name='label_codes')
    op.drop_table('label_codes')
    op.drop_index('ix_label_series_created_at', table_name='label_series')
    op.drop_table('label_series')
    op.drop_table('label_counters')
