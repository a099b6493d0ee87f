"""Dispatches (bills of lading, DESIGN.md 8.2, issue 20): dispatches, dispatch_items, and the
dispatch of each scan event

The invariants are the database's, whoever writes:
1. a parent is on at most one live dispatch: a partial unique index on dispatch_items
   (parent_id) WHERE state = 'loaded' (unloading deletes the item; a cancel or a return
   changes its state, which frees the parent);
2. only complete parents are loaded: a trigger refuses a live item whose parent is not a
   complete parent, and another refuses to reopen a parent that is on a live item or to move
   a child into or out of one (its children cannot change while it is on a dispatch);
3. a dispatch never holds more than expected_parents: parents_loaded is kept by triggers (the
   items that are not returned) and a CHECK holds it within 0..expected_parents.
scan_events.action grows to 32 characters (dispatch_cancelled) and scan_events gains
dispatch_id, fixed like the other columns by the append-only trigger. SQLite cannot change a
column's type in place: scan_events is rebuilt (batch mode) keeping its triggers and indexes,
as in 0008.

Revision ID: 0013_dispatch
Revises: 0011_time_made
Create Date: 2026-12-05 05:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_dispatch'
down_revision = "0012_api_tokens"
branch_labels = None
depends_on = None

FIXED = ("id, created_at, client_scanned_at, user_id, action, outcome, result, code, reason, "
         "scan_id, station, parent_code, made_at")
LIVE = "state = 'loaded'"
COUNTED = "state <> 'returned'"
NOT_COMPLETE = "a parent that is not complete cannot be loaded onto a dispatch"
ON_DISPATCH = "this parent is on a dispatch: it cannot be reopened and its children cannot change"

POSTGRESQL_UP = [
    f"""
    CREATE FUNCTION dispatch_items_count() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        delta integer := 0;
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.{COUNTED} THEN
            UPDATE dispatches SET parents_loaded = parents_loaded - 1 WHERE id = OLD.dispatch_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.{COUNTED} THEN
            UPDATE dispatches SET parents_loaded = parents_loaded + 1 WHERE id = NEW.dispatch_id;
        END IF;
        RETURN NULL;
    END $$
    """,
    """CREATE TRIGGER dispatch_items_count AFTER INSERT OR DELETE OR UPDATE OF state, dispatch_id
       ON dispatch_items FOR EACH ROW EXECUTE FUNCTION dispatch_items_count()""",
    f"""
    CREATE FUNCTION dispatch_items_complete_parent() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.{LIVE} AND NOT EXISTS (SELECT 1 FROM bags WHERE id = NEW.parent_id
                                      AND kind = 'parent' AND status = 'complete') THEN
            RAISE EXCEPTION '{NOT_COMPLETE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """CREATE TRIGGER dispatch_items_complete_parent BEFORE INSERT OR UPDATE OF state, parent_id
       ON dispatch_items FOR EACH ROW EXECUTE FUNCTION dispatch_items_complete_parent()""",
    f"""
    CREATE FUNCTION bags_on_dispatch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM dispatch_items WHERE {LIVE} AND parent_id IN (
                       CASE WHEN OLD.kind = 'parent' THEN OLD.id END,
                       OLD.parent_id, NEW.parent_id)) THEN
            RAISE EXCEPTION '{ON_DISPATCH}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    # A parent reopened, or a child moved into or out of a parent.
    """CREATE TRIGGER bags_on_dispatch BEFORE UPDATE OF status, parent_id ON bags
       FOR EACH ROW WHEN ((OLD.kind = 'parent' AND OLD.status = 'complete'
                           AND NEW.status <> 'complete')
                          OR OLD.parent_id IS DISTINCT FROM NEW.parent_id)
       EXECUTE FUNCTION bags_on_dispatch()""",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS bags_on_dispatch ON bags",
    "DROP FUNCTION IF EXISTS bags_on_dispatch()",
    "DROP TRIGGER IF EXISTS dispatch_items_complete_parent ON dispatch_items",
    "DROP FUNCTION IF EXISTS dispatch_items_complete_parent()",
    "DROP TRIGGER IF EXISTS dispatch_items_count ON dispatch_items",
    "DROP FUNCTION IF EXISTS dispatch_items_count()",
]

SQLITE_UP = [
    f"""CREATE TRIGGER dispatch_items_count_insert AFTER INSERT ON dispatch_items
        WHEN NEW.{COUNTED}
        BEGIN UPDATE dispatches SET parents_loaded = parents_loaded + 1 WHERE id = NEW.dispatch_id; END""",
    f"""CREATE TRIGGER dispatch_items_count_delete AFTER DELETE ON dispatch_items
        WHEN OLD.{COUNTED}
        BEGIN UPDATE dispatches SET parents_loaded = parents_loaded - 1 WHERE id = OLD.dispatch_id; END""",
    f"""CREATE TRIGGER dispatch_items_count_update_old AFTER UPDATE OF state, dispatch_id
        ON dispatch_items WHEN OLD.{COUNTED}
        BEGIN UPDATE dispatches SET parents_loaded = parents_loaded - 1 WHERE id = OLD.dispatch_id; END""",
    f"""CREATE TRIGGER dispatch_items_count_update_new AFTER UPDATE OF state, dispatch_id
        ON dispatch_items WHEN NEW.{COUNTED}
        BEGIN UPDATE dispatches SET parents_loaded = parents_loaded + 1 WHERE id = NEW.dispatch_id; END""",
    f"""CREATE TRIGGER dispatch_items_complete_parent_insert BEFORE INSERT ON dispatch_items
        WHEN NEW.{LIVE} AND NOT EXISTS (SELECT 1 FROM bags WHERE id = NEW.parent_id
                                        AND kind = 'parent' AND status = 'complete')
        BEGIN SELECT RAISE(ABORT, '{NOT_COMPLETE}'); END""",
    f"""CREATE TRIGGER dispatch_items_complete_parent_update BEFORE UPDATE OF state, parent_id
        ON dispatch_items
        WHEN NEW.{LIVE} AND NOT EXISTS (SELECT 1 FROM bags WHERE id = NEW.parent_id
                                        AND kind = 'parent' AND status = 'complete')
        BEGIN SELECT RAISE(ABORT, '{NOT_COMPLETE}'); END""",
    f"""CREATE TRIGGER bags_on_dispatch BEFORE UPDATE OF status, parent_id ON bags
        WHEN ((OLD.kind = 'parent' AND OLD.status = 'complete' AND NEW.status <> 'complete')
              OR OLD.parent_id IS NOT NEW.parent_id)
             AND EXISTS (SELECT 1 FROM dispatch_items WHERE {LIVE} AND parent_id IN (
                             CASE WHEN OLD.kind = 'parent' THEN OLD.id END,
                             OLD.parent_id, NEW.parent_id))
        BEGIN SELECT RAISE(ABORT, '{ON_DISPATCH}'); END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS bags_on_dispatch",
    "DROP TRIGGER IF EXISTS dispatch_items_complete_parent_update",
    "DROP TRIGGER IF EXISTS dispatch_items_complete_parent_insert",
    "DROP TRIGGER IF EXISTS dispatch_items_count_update_new",
    "DROP TRIGGER IF EXISTS dispatch_items_count_update_old",
    "DROP TRIGGER IF EXISTS dispatch_items_count_delete",
    "DROP TRIGGER IF EXISTS dispatch_items_count_insert",
]


def _no_update_trigger(dialect: str, columns: str) -> list[str]:
    if dialect == 'postgresql':
        return ["DROP TRIGGER IF EXISTS scan_events_no_update ON scan_events",
                f"""CREATE TRIGGER scan_events_no_update BEFORE UPDATE OF {columns}
                    ON scan_events FOR EACH ROW EXECUTE FUNCTION scan_events_append_only()"""]
    return ["DROP TRIGGER IF EXISTS scan_events_no_update",
            f"""CREATE TRIGGER scan_events_no_update BEFORE UPDATE OF {columns} ON scan_events
                BEGIN SELECT RAISE(ABORT, 'scan_events are append-only: record a new event instead'); END"""]


def _sqlite_rebuild(change) -> None:
    """As in 0008: a batch (rebuild) change of scan_events, keeping its triggers and indexes."""
    bind = op.get_bind()
    saved = bind.execute(sa.text(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'scan_events'"
        " AND type IN ('trigger', 'index') AND sql IS NOT NULL")).all()
    with op.batch_alter_table('scan_events', recreate='always') as batch:
        change(batch)
    for kind, name, sql in saved:
        op.execute(f"DROP {kind.upper()} IF EXISTS {name}")
        op.execute(sql)


def _widen(batch) -> None:
    batch.alter_column('action', type_=sa.String(length=32), existing_nullable=False)
    batch.add_column(sa.Column('dispatch_id', sa.Integer(), nullable=True))
    batch.create_foreign_key(op.f('fk_scan_events_dispatch_id_dispatches'), 'dispatches',
                             ['dispatch_id'], ['id'])


def _narrow(batch) -> None:
    batch.drop_constraint(op.f('fk_scan_events_dispatch_id_dispatches'), type_='foreignkey')
    batch.drop_column('dispatch_id')
    batch.alter_column('action', type_=sa.String(length=16), existing_nullable=False)


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        'dispatches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('site', sa.String(length=16), nullable=True),
        sa.Column('destination', sa.String(length=120), nullable=False),
        sa.Column('vehicle_number', sa.String(length=20), nullable=False),
        sa.Column('driver', sa.String(length=120), nullable=True),
        sa.Column('transporter', sa.String(length=120), nullable=True),
        sa.Column('reference', sa.String(length=64), nullable=True),
        sa.Column('expected_parents', sa.Integer(), nullable=False),
        sa.Column('parents_loaded', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('short_reason', sa.String(length=300), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('dispatched_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('loading', 'dispatched', 'cancelled')",
                           name=op.f('ck_dispatches_status')),
        sa.CheckConstraint('expected_parents BETWEEN 1 AND 500',
                           name=op.f('ck_dispatches_expected_parents')),
        sa.CheckConstraint('parents_loaded BETWEEN 0 AND expected_parents',
                           name=op.f('ck_dispatches_parents_loaded_expected')),
        sa.CheckConstraint("(status = 'dispatched') = (dispatched_at IS NOT NULL)",
                           name=op.f('ck_dispatches_dispatched_at_status')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_dispatches_created_by_id_users')),
        sa.ForeignKeyConstraint(['dispatched_by_id'], ['users.id'],
                                name=op.f('fk_dispatches_dispatched_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatches')),
        sa.UniqueConstraint('code', name=op.f('uq_dispatches_code')),
    )
    op.create_index('ix_dispatches_created_at_id', 'dispatches', ['created_at', 'id'])
    op.create_index('ix_dispatches_status_created_at_id', 'dispatches',
                    ['status', 'created_at', 'id'])
    op.create_table(
        'dispatch_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dispatch_id', sa.Integer(), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('loaded_by_id', sa.Integer(), nullable=True),
        sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('returned_by_id', sa.Integer(), nullable=True),
        sa.Column('return_reason', sa.String(length=300), nullable=True),
        sa.CheckConstraint("state IN ('loaded', 'returned', 'cancelled')",
                           name=op.f('ck_dispatch_items_state')),
        sa.CheckConstraint("(state = 'returned') = (returned_at IS NOT NULL)",
                           name=op.f('ck_dispatch_items_returned_at_state')),
        sa.ForeignKeyConstraint(['dispatch_id'], ['dispatches.id'], ondelete='CASCADE',
                                name=op.f('fk_dispatch_items_dispatch_id_dispatches')),
        sa.ForeignKeyConstraint(['parent_id'], ['bags.id'], ondelete='RESTRICT',
                                name=op.f('fk_dispatch_items_parent_id_bags')),
        sa.ForeignKeyConstraint(['loaded_by_id'], ['users.id'],
                                name=op.f('fk_dispatch_items_loaded_by_id_users')),
        sa.ForeignKeyConstraint(['returned_by_id'], ['users.id'],
                                name=op.f('fk_dispatch_items_returned_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_items')),
    )
    op.create_index('uq_dispatch_items_live_parent', 'dispatch_items', ['parent_id'],
                    unique=True, postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))
    op.create_index('ix_dispatch_items_dispatch_id_id', 'dispatch_items', ['dispatch_id', 'id'])
    op.create_index('ix_dispatch_items_parent_id', 'dispatch_items', ['parent_id'])

    if dialect == 'postgresql':
        # A column named in a trigger's UPDATE OF cannot change its type: drop it first.
        op.execute("DROP TRIGGER IF EXISTS scan_events_no_update ON scan_events")
        op.alter_column('scan_events', 'action', type_=sa.String(length=32),
                        existing_nullable=False)
        op.add_column('scan_events', sa.Column('dispatch_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_scan_events_dispatch_id_dispatches'), 'scan_events',
                              'dispatches', ['dispatch_id'], ['id'])
        statements = POSTGRESQL_UP
    else:
        _sqlite_rebuild(_widen)
        statements = SQLITE_UP
    op.create_index('ix_scan_events_dispatch_id_id', 'scan_events', ['dispatch_id', 'id'],
                    postgresql_where=sa.text('dispatch_id IS NOT NULL'),
                    sqlite_where=sa.text('dispatch_id IS NOT NULL'))
    for statement in _no_update_trigger(dialect, FIXED + ", dispatch_id"):
        op.execute(statement)
    for statement in statements:
        op.execute(statement)


def downgrade():
    # Dispatch events are kept: an action longer than 16 characters is cut to fit.
    dialect = op.get_bind().dialect.name
    for statement in (POSTGRESQL_DOWN if dialect == 'postgresql' else SQLITE_DOWN):
        op.execute(statement)
    op.drop_index('ix_scan_events_dispatch_id_id', table_name='scan_events')
    if dialect == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS scan_events_no_update ON scan_events")
        op.drop_constraint(op.f('fk_scan_events_dispatch_id_dispatches'), 'scan_events',
                           type_='foreignkey')
        op.drop_column('scan_events', 'dispatch_id')
        op.alter_column('scan_events', 'action', type_=sa.String(length=16),
                        existing_nullable=False, postgresql_using='left(action, 16)')
    else:
        op.execute("DROP TRIGGER IF EXISTS scan_events_no_update")
        _sqlite_rebuild(_narrow)
    for statement in _no_update_trigger(dialect, FIXED):
        op.execute(statement)
    op.drop_index('ix_dispatch_items_parent_id', table_name='dispatch_items')
    op.drop_index('ix_dispatch_items_dispatch_id_id', table_name='dispatch_items')
    op.drop_index('uq_dispatch_items_live_parent', table_name='dispatch_items')
    op.drop_table('dispatch_items')
    op.drop_index('ix_dispatches_status_created_at_id', table_name='dispatches')
    op.drop_index('ix_dispatches_created_at_id', table_name='dispatches')
    op.drop_table('dispatches')
