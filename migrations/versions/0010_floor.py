"""scan_counts: floor work only, imports left out

The dashboard's people, hourly chart and "Scans today" and the station's "My scans today"
are sums of scan_counts (0006). An import writes the scan events a station would have
written, with station 'import:<job id>', and the 0006 trigger counted them as the uploader's
own scans (issue 18, item 2). From here the trigger counts floor work only: an event whose
station starts with 'import:' is not counted. The rows already counted are recounted from
the events, with scan_events locked against inserts (SHARE mode) so that no event is counted
twice or missed. Imports stay visible on the imports pages and the dashboard's "Imports
today".

Revision ID: 0010_floor
Revises: 0009_two_factor
Create Date: 2026-12-04 18:00:00

"""
from alembic import op


revision = '0010_floor'
down_revision = '0009_two_factor'
branch_labels = None
depends_on = None

# The kinds counted (as in 0006), with a place for "NEW.".
KINDS = (
    ('linked', "{p}action = 'child_scan' AND {p}outcome = 'accepted' AND {p}result = 'linked'"),
    ('completed', "{p}action = 'complete' AND {p}outcome = 'accepted'"),
    ('refused', "{p}outcome = 'rejected' AND {p}result <> 'under_capacity'"),
)
# app/models/events.py FLOOR_WORK_SQL, with a place for "NEW.".
FLOOR_WORK = "({p}station IS NULL OR substr({p}station, 1, 7) <> 'import:')"


def slot_sql(dialect: str, column: str) -> str:
    """As in 0006: the start of the 15-minute UTC slot of `column`."""
    if dialect == 'postgresql':
        return f"to_timestamp(floor(extract(epoch FROM {column}) / 900) * 900)"
    return (f"strftime('%Y-%m-%d %H:', {column}) || "
            f"printf('%02d:00.000000', CAST(strftime('%M', {column}) AS INTEGER) / 15 * 15)")


def kind_case(prefix: str = '') -> str:
    whens = ' '.join(f"WHEN {condition.format(p=prefix)} THEN '{kind}'" for kind, condition in KINDS)
    return f"CASE {whens} END"


def _floor(prefix: str, floor_only: bool) -> str:
    return f" AND {FLOOR_WORK.format(p=prefix)}" if floor_only else ""


def recount_sql(dialect: str, floor_only: bool) -> str:
    return f"""
        INSERT INTO scan_counts (slot_start, kind, user_id, count)
        SELECT slot_start, kind, user_id, count(*) FROM (
            SELECT {slot_sql(dialect, 'created_at')} AS slot_start, {kind_case()} AS kind, user_id
            FROM scan_events
            WHERE ({' OR '.join(f"({condition.format(p='')})" for _kind, condition in KINDS)})
                  {_floor('', floor_only)}
        ) AS counted
        GROUP BY slot_start, kind, user_id
    """


def postgresql_function(floor_only: bool) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION scan_events_count() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        counted text := {kind_case('NEW.')};
    BEGIN
        IF counted IS NOT NULL{_floor('NEW.', floor_only)} THEN
            INSERT INTO scan_counts (slot_start, kind, user_id, count)
            VALUES ({slot_sql('postgresql', 'NEW.created_at')}, counted, NEW.user_id, 1)
            ON CONFLICT (slot_start, kind, user_id)
            DO UPDATE SET count = scan_counts.count + 1;
        END IF;
        RETURN NULL;
    END $$
    """


def sqlite_triggers(floor_only: bool) -> list[str]:
    statements = []
    for kind, condition in KINDS:
        statements.append(f"DROP TRIGGER IF EXISTS scan_events_count_{kind}")
        statements.append(f"""
        CREATE TRIGGER scan_events_count_{kind} AFTER INSERT ON scan_events
        WHEN {condition.format(p='NEW.')}{_floor('NEW.', floor_only)}
        BEGIN
            INSERT INTO scan_counts (slot_start, kind, user_id, count)
            VALUES ({slot_sql('sqlite', 'NEW.created_at')}, '{kind}', NEW.user_id, 1)
            ON CONFLICT (slot_start, kind, user_id) DO UPDATE SET count = count + 1;
        END
        """)
    return statements


def _change(floor_only: bool) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute("LOCK TABLE scan_events IN SHARE MODE")
        statements = [postgresql_function(floor_only)]
    else:
        statements = sqlite_triggers(floor_only)
    for statement in statements:
        op.execute(statement)
    op.execute("DELETE FROM scan_counts")
    op.execute(recount_sql(dialect, floor_only))


def upgrade():
    _change(floor_only=True)


def downgrade():
    _change(floor_only=False)
