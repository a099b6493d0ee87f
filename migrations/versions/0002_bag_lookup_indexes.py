"""bag lookup indexes

Keyset pagination of the bag list, newest first, on (created_at, id): alone and under the
kind, status and created-by filters, so that a deep page costs what the first one does.
ix_bags_created_at_id replaces ix_bags_created_at (it serves every query the old one did).
On PostgreSQL the code column uses the "C" collation, so that its unique index serves the
code-prefix filter and the nearest-code suggestions as plain range scans.

Revision ID: 0002_bag_lookup
Revises: 0001_initial
Create Date: 2026-11-28 19:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002_bag_lookup'
down_revision = '0001_initial'
branch_labels = None
depends_on = None

NEW_INDEXES = {
    'ix_bags_created_at_id': ['created_at', 'id'],
    'ix_bags_kind_created_at_id': ['kind', 'created_at', 'id'],
    'ix_bags_status_created_at_id': ['status', 'created_at', 'id'],
    'ix_bags_created_by_id_created_at_id': ['created_by_id', 'created_at', 'id'],
}


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('bags', 'code', existing_type=sa.String(length=64),
                        type_=sa.String(length=64, collation='C'), existing_nullable=False)
    # Plain index operations: a batch (table copy) on SQLite would drop the bag triggers.
    op.drop_index('ix_bags_created_at', table_name='bags')
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, 'bags', columns, unique=False)


def downgrade():
    for name in reversed(list(NEW_INDEXES)):
        op.drop_index(name, table_name='bags')
    op.create_index('ix_bags_created_at', 'bags', ['created_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('bags', 'code', existing_type=sa.String(length=64, collation='C'),
                        type_=sa.String(length=64), existing_nullable=False)
