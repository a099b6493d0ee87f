"""scan_events.made_at: the time a scan was made, which timelines and the dashboard count by

A scan made offline at 13:57 and sent at 16:57 belongs to 13:57 (issue 27): made_at is the
scan's scanned_at when the client gave one within the accepted window (7 days before to 5
minutes after its arrival, app/timeparse.py), else its arrival (created_at). Existing events
get it by that rule. From here:
- the scan_counts trigger slots each event by made_at (the dashboard's hours, "today",
  people and "My scans today"), and the counts are recounted with scan_events locked against
  inserts, as in 0006 and 0010; imports stay left out (0010);
- the last hour's edge reads ix_scan_events_linked_made_at instead of the created_at index;
- made_at joins the columns the append-only trigger keeps fixed.

Revision ID: 0011_time_made
Revises: 0010_floor
Create Date: 2026-12-04 19:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011_time_made'
down_revision = '0010_floor'
branch_labels = None
depends_on = None

KINDS = (  # as in 0006 and 0010, with a place for "NEW."
    ('linked', "{p}action = 'child_scan' AND {p}outcome = 'accepted' AND {p}result = 'linked'"),
    ('completed', "{p}action = 'complete' AND {p}outcome = 'accepted'"),
    ('refused', "{p}outcome = 'rejected' AND {p}result <> 'under_capacity'"),
)
FLOOR_WORK = "({p}station IS NULL OR substr({p}station, 1, 7) <> 'import:')"
LINKED_SCAN_SQL = "action = 'child_scan' AND outcome = 'accepted' AND result = 'linked'"
MADE = "coalesce({p}made_at, {p}created_at)"
FIXED = ("id, created_at, client_scanned_at, user_id, action, outcome, result, code, reason, "
         "scan_id, station, parent_code")

BACKFILL = {
    'postgresql': """
        UPDATE scan_events SET made_at = CASE
            WHEN client_scanned_at BETWEEN created_at - INTERVAL '7 days'
                                       AND created_at + INTERVAL '5 minutes'
            THEN client_scanned_at ELSE created_at END""",
    'sqlite': """
        UPDATE scan_events SET made_at = CASE
            WHEN julianday(client_scanned_at) BETWEEN julianday(created_at) - 7
                                                  AND julianday(created_at) + 5.0 / 1440
            THEN client_scanned_at ELSE created_at END""",
}


def slot_sql(dialect: str, column: str) -> str:
    """As in 0006: the start of the 15-minute UTC slot of `column`."""
    if dialect == 'postgresql':
        return f"to_timestamp(floor(extract(epoch FROM {column}) / 900) * 900)"
    return (f"strftime('%Y-%m-%d %H:', {column}) || "
            f"printf('%02d:00.000000', CAST(strftime('%M', {column}) AS INTEGER) / 15 * 15)")


def kind_case(prefix: str = '') -> str:
    whens = ' '.join(f"WHEN {condition.format(p=prefix)} THEN '{kind}'" for kind, condition in KINDS)
    return f"CASE {whens} END"


def recount_sql(dialect: str, column: str) -> str:
    return f"""
        INSERT INTO scan_counts (slot_start, kind, user_id, count)
        SELECT slot_start, kind, user_id, count(*) FROM (
            SELECT {slot_sql(dialect, column.format(p=''))} AS slot_start, {kind_case()} AS kind, user_id
            FROM scan_events
            WHERE ({' OR '.join(f"({condition.format(p='')})" for _kind, condition in KINDS)})
                  AND {FLOOR_WORK.format(p='')}
        ) AS counted
        GROUP BY slot_start, kind, user_id
    """


def postgresql_function(column: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION scan_events_count() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        counted text := {kind_case('NEW.')};
    BEGIN
        IF counted IS NOT NULL AND {FLOOR_WORK.format(p='NEW.')} THEN
            INSERT INTO scan_counts (slot_start, kind, user_id, count)
            VALUES ({slot_sql('postgresql', column.format(p='NEW.'))}, counted, NEW.user_id, 1)
            ON CONFLICT (slot_start, kind, user_id)
            DO UPDATE SET count = scan_counts.count + 1;
        END IF;
        RETURN NULL;
    END $$
    """


def sqlite_triggers(column: str) -> list[str]:
    statements = []
    for kind, condition in KINDS:
        statements.append(f"DROP TRIGGER IF EXISTS scan_events_count_{kind}")
        statements.append(f"""
        CREATE TRIGGER scan_events_count_{kind} AFTER INSERT ON scan_events
        WHEN {condition.format(p='NEW.')} AND {FLOOR_WORK.format(p='NEW.')}
        BEGIN
            INSERT INTO scan_counts (slot_start, kind, user_id, count)
            VALUES ({slot_sql('sqlite', column.format(p='NEW.'))}, '{kind}', NEW.user_id, 1)
            ON CONFLICT (slot_start, kind, user_id) DO UPDATE SET count = count + 1;
        END
        """)
    return statements


def no_update_trigger(dialect: str, columns: str) -> list[str]:
    if dialect == 'postgresql':
        return ["DROP TRIGGER IF EXISTS scan_events_no_update ON scan_events",
                f"""CREATE TRIGGER scan_events_no_update BEFORE UPDATE OF {columns}
                    ON scan_events FOR EACH ROW EXECUTE FUNCTION scan_events_append_only()"""]
    return ["DROP TRIGGER IF EXISTS scan_events_no_update",
            f"""CREATE TRIGGER scan_events_no_update BEFORE UPDATE OF {columns} ON scan_events
                BEGIN SELECT RAISE(ABORT, 'scan_events are append-only: record a new event instead'); END"""]


def _count_by(dialect: str, column: str) -> None:
    if dialect == 'postgresql':
        op.execute("LOCK TABLE scan_events IN SHARE MODE")
        statements = [postgresql_function(column)]
    else:
        statements = sqlite_triggers(column)
    for statement in statements:
        op.execute(statement)
    op.execute("DELETE FROM scan_counts")
    op.execute(recount_sql(dialect, column))


def _linked_index(column: str):
    op.create_index(f'ix_scan_events_linked_{column}', 'scan_events', [column, 'user_id'],
                    postgresql_where=sa.text(LINKED_SCAN_SQL),
                    sqlite_where=sa.text(LINKED_SCAN_SQL))


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column('scan_events', sa.Column('made_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(BACKFILL[dialect])
    for statement in no_update_trigger(dialect, FIXED + ", made_at"):
        op.execute(statement)
    # coalesce: a row written by something that does not know made_at counts when it arrived.
    _count_by(dialect, MADE)
    op.drop_index('ix_scan_events_linked_created_at', table_name='scan_events')
    _linked_index('made_at')


def downgrade():
    dialect = op.get_bind().dialect.name
    op.drop_index('ix_scan_events_linked_made_at', table_name='scan_events')
    _linked_index('created_at')
    _count_by(dialect, '{p}created_at')
    for statement in no_update_trigger(dialect, FIXED):
        op.execute(statement)
    op.drop_column('scan_events', 'made_at')
