"""scan_events: the parent's code kept on every event; scan_id unique per user

1. parent_code: the code of the event's parent, written with the event and fixed from then
   on. parent_id still points at the bag but becomes NULL when a supervisor deletes the
   parent (ON DELETE SET NULL); the code stays, so a child's history still says which
   parent it was in (issue 27). Existing events get it from their parent's row; events whose
   parent was deleted before this revision have lost it for good.
2. scan_id is unique per user, not across users (DESIGN.md 8.7): two clients of different
   users may number their scans alike. Existing rows keep their ids (unique across all users
   is unique per user).

The append-only trigger then covers parent_code too. SQLite cannot drop a table's UNIQUE
constraint in place: the table is rebuilt (Alembic batch mode), and its triggers and partial
indexes, which a rebuild drops, are read from sqlite_master first and created again.

Revision ID: 0008_event_parent_code
Revises: 0007_import_upload_purge
Create Date: 2026-12-04 18:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008_event_parent_code'
down_revision = '0007_import_upload_purge'
branch_labels = None
depends_on = None

FIXED_COLUMNS = ("id, created_at, client_scanned_at, user_id, action, outcome, result, code, "
                 "reason, scan_id, station")

BACKFILL = """
    UPDATE scan_events SET parent_code = (SELECT code FROM bags WHERE bags.id = scan_events.parent_id)
    WHERE parent_id IS NOT NULL
"""


def _no_update_trigger(dialect: str, columns: str) -> list[str]:
    if dialect == 'postgresql':
        return [
            "DROP TRIGGER IF EXISTS scan_events_no_update ON scan_events",
            f"""CREATE TRIGGER scan_events_no_update BEFORE UPDATE OF {columns} ON scan_events
                FOR EACH ROW EXECUTE FUNCTION scan_events_append_only()""",
        ]
    return [
        "DROP TRIGGER IF EXISTS scan_events_no_update",
        f"""CREATE TRIGGER scan_events_no_update BEFORE UPDATE OF {columns} ON scan_events
            BEGIN SELECT RAISE(ABORT, 'scan_events are append-only: record a new event instead'); END""",
    ]


def _sqlite_rebuild(change) -> None:
    """Run a batch (rebuild) change on scan_events, keeping its triggers and indexes."""
    bind = op.get_bind()
    saved = bind.execute(sa.text(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'scan_events'"
        " AND type IN ('trigger', 'index') AND sql IS NOT NULL")).all()
    with op.batch_alter_table('scan_events', recreate='always') as batch:
        change(batch)
    for kind, name, sql in saved:
        op.execute(f"DROP {kind.upper()} IF EXISTS {name}")
        op.execute(sql)


def _per_user(batch) -> None:
    batch.drop_constraint('uq_scan_events_scan_id', type_='unique')
    batch.create_unique_constraint('uq_scan_events_user_id_scan_id', ['user_id', 'scan_id'])


def _global(batch) -> None:
    batch.drop_constraint('uq_scan_events_user_id_scan_id', type_='unique')
    batch.create_unique_constraint('uq_scan_events_scan_id', ['scan_id'])
    batch.drop_column('parent_code')


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column('scan_events', sa.Column('parent_code', sa.String(length=64), nullable=True))
    op.execute(BACKFILL)
    if dialect == 'postgresql':
        with op.batch_alter_table('scan_events') as batch:  # plain ALTERs on PostgreSQL
            _per_user(batch)
    else:
        _sqlite_rebuild(_per_user)
    for statement in _no_update_trigger(dialect, FIXED_COLUMNS + ", parent_code"):
        op.execute(statement)


def downgrade():
    # Refused when two users' events share a scan_id (the old constraint cannot hold them).
    dialect = op.get_bind().dialect.name
    for statement in _no_update_trigger(dialect, FIXED_COLUMNS):
        op.execute(statement)
    if dialect == 'postgresql':
        with op.batch_alter_table('scan_events') as batch:
            _global(batch)
    else:
        _sqlite_rebuild(_global)
