"""scan counts per user and 15-minute slot

scan_counts holds, per user and 15-minute UTC slot, the number of accepted child links,
completions and refusals (under_capacity excepted). An AFTER INSERT trigger on scan_events
adds one to the right row in the same transaction as the event, so the counts always equal
the events (which are append-only: nothing ever subtracts). The dashboard sums these rows
for "today", the hour buckets and each person's work: a few thousand rows whatever the
day's volume, instead of every event of the last 24 hours (docs/PERFORMANCE.md).

Every time zone's offset is a whole number of quarter hours, so local hours and midnights
fall on slot boundaries in every zone.

The existing events are counted once here, with scan_events locked against inserts (SHARE
mode) so that no event is counted twice or missed; a scan waiting on the lock retries after
its lock_timeout (503 database_busy). ix_scan_events_completed_created_at (0004) is no longer
read by anything and goes.

Revision ID: 0006_scan_counts
Revises: 0005_imports
Create Date: 2026-11-28 20:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_scan_counts'
down_revision = '0005_imports'
branch_labels = None
depends_on = None

# The kinds counted: app/models/events.py's *_SQL predicates, with a place for "NEW.".
KINDS = (
    ('linked', "{p}action = 'child_scan' AND {p}outcome = 'accepted' AND {p}result = 'linked'"),
    ('completed', "{p}action = 'complete' AND {p}outcome = 'accepted'"),
    ('refused', "{p}outcome = 'rejected' AND {p}result <> 'under_capacity'"),
)
COMPLETED = KINDS[1][1].format(p='')


def slot_sql(dialect: str, column: str) -> str:
    """The start of the 15-minute UTC slot of `column`. SQLite keeps UTC times as text in
    SQLAlchemy's format ('YYYY-MM-DD HH:MM:SS.ffffff'); the slot is written the same way."""
    if dialect == 'postgresql':
        return f"to_timestamp(floor(extract(epoch FROM {column}) / 900) * 900)"
    # (No ":" before a digit: SQLAlchemy's text() would read ":00" as a bind parameter.)
    return (f"strftime('%Y-%m-%d %H:', {column}) || "
            f"printf('%02d:00.000000', CAST(strftime('%M', {column}) AS INTEGER) / 15 * 15)")


def kind_case(prefix: str = '') -> str:
    whens = ' '.join(f"WHEN {condition.format(p=prefix)} THEN '{kind}'" for kind, condition in KINDS)
    return f"CASE {whens} END"


def backfill_sql(dialect: str) -> str:
    """Count the events already stored (also used by loadtests/dashboard_benchmark.py after
    a bulk load that bypassed the trigger)."""
    return f"""
        INSERT INTO scan_counts (slot_start, kind, user_id, count)
        SELECT slot_start, kind, user_id, count(*) FROM (
            SELECT {slot_sql(dialect, 'created_at')} AS slot_start, {kind_case()} AS kind, user_id
            FROM scan_events
            WHERE {' OR '.join(f"({condition.format(p='')})" for _kind, condition in KINDS)}
        ) AS counted
        GROUP BY slot_start, kind, user_id
    """


POSTGRESQL_TRIGGER = [
    f"""
    CREATE FUNCTION scan_events_count() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        counted text := {kind_case('NEW.')};
    BEGIN
        IF counted IS NOT NULL THEN
            INSERT INTO scan_counts (slot_start, kind, user_id, count)
            VALUES ({slot_sql('postgresql', 'NEW.created_at')}, counted, NEW.user_id, 1)
            ON CONFLICT (slot_start, kind, user_id)
            DO UPDATE SET count = scan_counts.count + 1;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER scan_events_count AFTER INSERT ON scan_events
    FOR EACH ROW EXECUTE FUNCTION scan_events_count()
    """,
]


def sqlite_triggers() -> list[str]:
    return [
        f"""
        CREATE TRIGGER scan_events_count_{kind} AFTER INSERT ON scan_events
        WHEN {condition.format(p='NEW.')}
        BEGIN
            INSERT INTO scan_counts (slot_start, kind, user_id, count)
            VALUES ({slot_sql('sqlite', 'NEW.created_at')}, '{kind}', NEW.user_id, 1)
            ON CONFLICT (slot_start, kind, user_id) DO UPDATE SET count = count + 1;
        END
        """
        for kind, condition in KINDS
    ]


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute("LOCK TABLE scan_events IN SHARE MODE")
    op.create_table('scan_counts',
    sa.Column('slot_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('linked', 'completed', 'refused')", name=op.f('ck_scan_counts_kind')),
    sa.CheckConstraint('count > 0', name=op.f('ck_scan_counts_count_positive')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_scan_counts_user_id_users')),
    sa.PrimaryKeyConstraint('slot_start', 'kind', 'user_id', name=op.f('pk_scan_counts'))
    )
    for statement in POSTGRESQL_TRIGGER if dialect == 'postgresql' else sqlite_triggers():
        op.execute(statement)
    op.execute(backfill_sql(dialect))
    # Plain index operations: a batch (table copy) on SQLite would drop the event triggers.
    op.drop_index('ix_scan_events_completed_created_at', table_name='scan_events')


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.create_index('ix_scan_events_completed_created_at', 'scan_events',
                        ['created_at', 'user_id'], unique=False,
                        postgresql_where=sa.text(COMPLETED))
        op.execute("DROP TRIGGER IF EXISTS scan_events_count ON scan_events")
        op.execute("DROP FUNCTION IF EXISTS scan_events_count()")
    else:
        op.create_index('ix_scan_events_completed_created_at', 'scan_events',
                        ['created_at', 'user_id'], unique=False,
                        sqlite_where=sa.text(COMPLETED))
        for kind, _condition in KINDS:
            op.execute(f"DROP TRIGGER IF EXISTS scan_events_count_{kind}")
    op.drop_table('scan_counts')
