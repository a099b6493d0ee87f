"""dashboard indexes

Partial indexes that make every dashboard figure an index-only range scan at millions of
rows (docs/PERFORMANCE.md, "Dashboard"):
- ix_bags_parent_status_child_count: the parents alone, by status, with child_count
  (open and complete parents; linked children = the sum of child_count);
- ix_scan_events_linked_created_at, ix_scan_events_completed_created_at,
  ix_scan_events_refused_created_at: accepted child links, completions and refusals in
  time order, with the user (scans today / last hour / per hour / per person, parents
  completed, errors and the exceptions feed).
On PostgreSQL they are built CONCURRENTLY, so that a deploy on a live database does not
block scans while they build.

Revision ID: 0004_dashboard_indexes
Revises: 0003_jobs
Create Date: 2026-11-28 19:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004_dashboard_indexes'
down_revision = '0003_jobs'
branch_labels = None
depends_on = None

# (name, table, columns, predicate); the predicates are the models' *_SQL constants.
INDEXES = [
    ('ix_bags_parent_status_child_count', 'bags', ['status', 'child_count'],
     "kind = 'parent'"),
    ('ix_scan_events_linked_created_at', 'scan_events', ['created_at', 'user_id'],
     "action = 'child_scan' AND outcome = 'accepted' AND result = 'linked'"),
    ('ix_scan_events_completed_created_at', 'scan_events', ['created_at', 'user_id'],
     "action = 'complete' AND outcome = 'accepted'"),
    ('ix_scan_events_refused_created_at', 'scan_events', ['created_at', 'user_id'],
     "outcome = 'rejected' AND result <> 'under_capacity'"),
]


def upgrade():
    # Plain index operations: a batch (table copy) on SQLite would drop the bag triggers.
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            for name, table, columns, predicate in INDEXES:
                op.create_index(name, table, columns, unique=False,
                                postgresql_where=sa.text(predicate),
                                postgresql_concurrently=True)
    else:
        for name, table, columns, predicate in INDEXES:
            op.create_index(name, table, columns, unique=False,
                            sqlite_where=sa.text(predicate))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            for name, table, _columns, _predicate in reversed(INDEXES):
                op.drop_index(name, table_name=table, postgresql_concurrently=True)
    else:
        for name, table, _columns, _predicate in reversed(INDEXES):
            op.drop_index(name, table_name=table)
