"""sites: several warehouses in one deployment (issue 21, DESIGN.md 8.5)

- `sites` (code, name, IANA time zone) and `user_sites` (a non-admin user's sites; admins
  belong to all by their role). The site DEFAULT_SITE_CODE (default MAIN) is made here, in
  APP_TIMEZONE, and every existing user who is not an admin joins it.
- `site_id` on bags, dispatches, imports, jobs, label_series, scan_events and audit_events:
  every existing row moves into the default site, and the column is required from here on.
  On PostgreSQL the column comes with a constant default, which PostgreSQL 11 and later
  store once in the catalog instead of writing every row (no table rewrite on a million
  bags); the default stays, as on SQLite, for writers outside the application (a script's
  INSERT lands in the default site; the application always says the site), and the foreign
  key is added NOT VALID and validated after (a plain scan, no long lock).
- The list and dashboard indexes lead with site_id: every list is one site's.
- dispatches: a transfer's destination_site_id, status `received` and received_at; an
  item's state `received` (its parent arrived: no longer held by the dispatch, still one of
  its parents) with received_at/by.
- scan_counts gains site_id in its key and is recounted from the events, with scan_events
  locked against inserts as in 0006 and 0011; the trigger counts per site.
- api_tokens.sites: the sites a token is limited to (space-separated codes; NULL: all of
  its user's sites).
- scan_events.site_id joins the columns the append-only trigger keeps fixed.

SQLite (the one-machine trial) cannot add a column with a foreign key and a non-NULL default
while foreign keys are enforced, nor change a CHECK without rebuilding the table: those steps
run with foreign keys off (outside a transaction, as SQLite requires), following SQLite's
own procedure for other kinds of table changes, and the foreign keys are checked after.

docs/PERFORMANCE.md ("Sites migration") has its time on 1,000,000 bags and the command.

Revision ID: 0017_sites
Revises: 0016_user_language
Create Date: 2026-12-06 09:00:00

"""
import os

from alembic import op
import sqlalchemy as sa


revision = '0017_sites'
down_revision = '0016_user_language'
branch_labels = None
depends_on = None

OWNED = ('bags', 'dispatches', 'imports', 'jobs', 'label_series', 'scan_events',
         'audit_events')
PARENT_ONLY = "kind = 'parent'"
LINKED_SCAN = "action = 'child_scan' AND outcome = 'accepted' AND result = 'linked'"
REFUSED = "outcome = 'rejected' AND result <> 'under_capacity'"
# (old name, new name, new columns, old columns, partial predicate)
INDEXES = (
    ('bags', 'ix_bags_created_at_id', 'ix_bags_site_created_at_id',
     ['site_id', 'created_at', 'id'], ['created_at', 'id'], None),
    ('bags', 'ix_bags_kind_created_at_id', 'ix_bags_site_kind_created_at_id',
     ['site_id', 'kind', 'created_at', 'id'], ['kind', 'created_at', 'id'], None),
    ('bags', 'ix_bags_status_created_at_id', 'ix_bags_site_status_created_at_id',
     ['site_id', 'status', 'created_at', 'id'], ['status', 'created_at', 'id'], None),
    ('bags', 'ix_bags_created_by_id_created_at_id', 'ix_bags_site_created_by_created_at_id',
     ['site_id', 'created_by_id', 'created_at', 'id'], ['created_by_id', 'created_at', 'id'],
     None),
    ('bags', 'ix_bags_parent_status_child_count', 'ix_bags_site_parent_status_child_count',
     ['site_id', 'status', 'child_count'], ['status', 'child_count'], PARENT_ONLY),
    ('scan_events', 'ix_scan_events_linked_made_at', 'ix_scan_events_site_linked_made_at',
     ['site_id', 'made_at', 'user_id'], ['made_at', 'user_id'], LINKED_SCAN),
    ('scan_events', 'ix_scan_events_refused_created_at',
     'ix_scan_events_site_refused_created_at', ['site_id', 'created_at', 'user_id'],
     ['created_at', 'user_id'], REFUSED),
    ('dispatches', 'ix_dispatches_created_at_id', 'ix_dispatches_site_created_at_id',
     ['site_id', 'created_at', 'id'], ['created_at', 'id'], None),
    ('dispatches', 'ix_dispatches_status_created_at_id',
     'ix_dispatches_site_status_created_at_id', ['site_id', 'status', 'created_at', 'id'],
     ['status', 'created_at', 'id'], None),
    ('imports', 'ix_imports_created_at', 'ix_imports_site_created_at',
     ['site_id', 'created_at'], ['created_at'], None),
    ('label_series', 'ix_label_series_created_at', 'ix_label_series_site_created_at',
     ['site_id', 'created_at'], ['created_at'], None),
    ('audit_events', 'ix_audit_events_created_at', 'ix_audit_events_site_created_at',
     ['site_id', 'created_at'], ['created_at'], None),
)

# The scan_counts trigger, as in 0011, per site.
KINDS = (
    ('linked', "{p}action = 'child_scan' AND {p}outcome = 'accepted' AND {p}result = 'linked'"),
    ('completed', "{p}action = 'complete' AND {p}outcome = 'accepted'"),
    ('refused', "{p}outcome = 'rejected' AND {p}result <> 'under_capacity'"),
)
FLOOR_WORK = "({p}station IS NULL OR substr({p}station, 1, 7) <> 'import:')"
MADE = "coalesce({p}made_at, {p}created_at)"
FIXED = ("id, created_at, client_scanned_at, user_id, action, outcome, result, code, reason, "
         "scan_id, station, parent_code, made_at, dispatch_id")

OLD_STATUS = "status IN ('loading', 'dispatched', 'cancelled')"
NEW_STATUS = "status IN ('loading', 'dispatched', 'cancelled', 'received')"
OLD_DISPATCHED_AT = "(status = 'dispatched') = (dispatched_at IS NOT NULL)"
NEW_DISPATCHED_AT = "(status IN ('dispatched', 'received')) = (dispatched_at IS NOT NULL)"
RECEIVED_AT = "(status = 'received') = (received_at IS NOT NULL)"
OTHER_SITE = "destination_site_id IS NULL OR destination_site_id <> site_id"
OLD_ITEM_STATE = "state IN ('loaded', 'returned', 'cancelled')"
NEW_ITEM_STATE = "state IN ('loaded', 'returned', 'cancelled', 'received')"
ITEM_RECEIVED_AT = "(state = 'received') = (received_at IS NOT NULL)"


# SQLite: one trigger for a counted item's change of state (0013 had two, one per side,
# whose firing order SQLite does not promise): the old side is taken off before the new one is
# added, so an item of a full dispatch that changes from one counted state to another
# (loaded -> received) never counts twice, even for a moment.
COUNTED = "state <> 'returned'"
SQLITE_ONE_UPDATE_COUNT = [
    "DROP TRIGGER IF EXISTS dispatch_items_count_update_old",
    "DROP TRIGGER IF EXISTS dispatch_items_count_update_new",
    f"""CREATE TRIGGER dispatch_items_count_update AFTER UPDATE OF state, dispatch_id
        ON dispatch_items
        BEGIN
            UPDATE dispatches SET parents_loaded = parents_loaded - 1
             WHERE id = OLD.dispatch_id AND OLD.{COUNTED};
            UPDATE dispatches SET parents_loaded = parents_loaded + 1
             WHERE id = NEW.dispatch_id AND NEW.{COUNTED};
        END""",
]
SQLITE_TWO_UPDATE_COUNTS = [
    "DROP TRIGGER IF EXISTS dispatch_items_count_update",
    f"""CREATE TRIGGER dispatch_items_count_update_old AFTER UPDATE OF state, dispatch_id
        ON dispatch_items WHEN OLD.{COUNTED}
        BEGIN UPDATE dispatches SET parents_loaded = parents_loaded - 1 WHERE id = OLD.dispatch_id; END""",
    f"""CREATE TRIGGER dispatch_items_count_update_new AFTER UPDATE OF state, dispatch_id
        ON dispatch_items WHEN NEW.{COUNTED}
        BEGIN UPDATE dispatches SET parents_loaded = parents_loaded + 1 WHERE id = NEW.dispatch_id; END""",
]


def _item_checks_up(batch) -> None:
    batch.drop_constraint(op.f('ck_dispatch_items_state'), type_='check')
    batch.create_check_constraint(op.f('ck_dispatch_items_state'), NEW_ITEM_STATE)
    batch.create_check_constraint(op.f('ck_dispatch_items_received_at_state'), ITEM_RECEIVED_AT)


def _item_checks_down(batch) -> None:
    batch.drop_constraint(op.f('ck_dispatch_items_received_at_state'), type_='check')
    batch.drop_constraint(op.f('ck_dispatch_items_state'), type_='check')
    batch.create_check_constraint(op.f('ck_dispatch_items_state'), OLD_ITEM_STATE)


def slot_sql(dialect: str, column: str) -> str:
    if dialect == 'postgresql':
        return f"to_timestamp(floor(extract(epoch FROM {column}) / 900) * 900)"
    return (f"strftime('%Y-%m-%d %H:', {column}) || "
            f"printf('%02d:00.000000', CAST(strftime('%M', {column}) AS INTEGER) / 15 * 15)")


def kind_case(prefix: str = '') -> str:
    whens = ' '.join(f"WHEN {condition.format(p=prefix)} THEN '{kind}'"
                     for kind, condition in KINDS)
    return f"CASE {whens} END"


def recount_sql(dialect: str, with_site: bool) -> str:
    site = ', site_id' if with_site else ''
    return f"""
        INSERT INTO scan_counts (slot_start, kind, user_id{site}, count)
        SELECT slot_start, kind, user_id{site}, count(*) FROM (
            SELECT {slot_sql(dialect, MADE.format(p=''))} AS slot_start, {kind_case()} AS kind,
                   user_id{site}
            FROM scan_events
            WHERE ({' OR '.join(f"({condition.format(p='')})" for _kind, condition in KINDS)})
                  AND {FLOOR_WORK.format(p='')}
        ) AS counted
        GROUP BY slot_start, kind, user_id{site}
    """


def postgresql_count_function(with_site: bool) -> str:
    site, new_site = (', site_id', ', NEW.site_id') if with_site else ('', '')
    return f"""
    CREATE OR REPLACE FUNCTION scan_events_count() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        counted text := {kind_case('NEW.')};
    BEGIN
        IF counted IS NOT NULL AND {FLOOR_WORK.format(p='NEW.')} THEN
            INSERT INTO scan_counts (slot_start, kind, user_id{site}, count)
            VALUES ({slot_sql('postgresql', MADE.format(p='NEW.'))}, counted, NEW.user_id{new_site}, 1)
            ON CONFLICT (slot_start, kind, user_id{site})
            DO UPDATE SET count = scan_counts.count + 1;
        END IF;
        RETURN NULL;
    END $$
    """


def sqlite_count_triggers(with_site: bool) -> list[str]:
    site, new_site = (', site_id', ', NEW.site_id') if with_site else ('', '')
    statements = []
    for kind, condition in KINDS:
        statements.append(f"DROP TRIGGER IF EXISTS scan_events_count_{kind}")
        statements.append(f"""
        CREATE TRIGGER scan_events_count_{kind} AFTER INSERT ON scan_events
        WHEN {condition.format(p='NEW.')} AND {FLOOR_WORK.format(p='NEW.')}
        BEGIN
            INSERT INTO scan_counts (slot_start, kind, user_id{site}, count)
            VALUES ({slot_sql('sqlite', MADE.format(p='NEW.'))}, '{kind}', NEW.user_id{new_site}, 1)
            ON CONFLICT (slot_start, kind, user_id{site}) DO UPDATE SET count = count + 1;
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


def scan_counts_table(with_site: bool) -> None:
    columns = [sa.Column('slot_start', sa.DateTime(timezone=True), nullable=False),
               sa.Column('kind', sa.String(length=16), nullable=False),
               sa.Column('user_id', sa.Integer(), nullable=False)]
    key = ['slot_start', 'kind', 'user_id']
    extra = []
    if with_site:
        columns.append(sa.Column('site_id', sa.Integer(), nullable=False))
        key.append('site_id')
        extra.append(sa.ForeignKeyConstraint(['site_id'], ['sites.id'],
                                             name=op.f('fk_scan_counts_site_id_sites')))
    op.create_table(
        'scan_counts', *columns, sa.Column('count', sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('linked', 'completed', 'refused')",
                           name=op.f('ck_scan_counts_kind')),
        sa.CheckConstraint('count > 0', name=op.f('ck_scan_counts_count_positive')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_scan_counts_user_id_users')),
        *extra,
        sa.PrimaryKeyConstraint(*key, name=op.f('pk_scan_counts')))


def recount(dialect: str, with_site: bool) -> None:
    """scan_counts again, with or without the site, counted from the events while no event
    can be written (SHARE mode on PostgreSQL; SQLite has one writer)."""
    if dialect == 'postgresql':
        op.execute("LOCK TABLE scan_events IN SHARE MODE")
    op.drop_table('scan_counts')
    scan_counts_table(with_site)
    statements = ([postgresql_count_function(with_site)] if dialect == 'postgresql'
                  else sqlite_count_triggers(with_site))
    for statement in statements:
        op.execute(statement)
    op.execute(recount_sql(dialect, with_site))


def default_site() -> tuple[str, str]:
    code = (os.environ.get('DEFAULT_SITE_CODE') or 'MAIN').strip().upper() or 'MAIN'
    zone = (os.environ.get('APP_TIMEZONE') or 'UTC').strip() or 'UTC'
    return code, zone


class SqliteForeignKeysOff:
    """SQLite's procedure for table changes it cannot ALTER: foreign keys off (only possible
    outside a transaction), the renames left as they are written in triggers (legacy
    renaming: the triggers name the table, which is back under its name at the end), then
    every foreign key checked before going on."""

    def __enter__(self):
        bind = op.get_bind()
        bind.exec_driver_sql("COMMIT")
        bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
        bind.exec_driver_sql("PRAGMA legacy_alter_table=ON")
        bind.exec_driver_sql("BEGIN")
        return self

    def __exit__(self, kind, value, traceback):
        bind = op.get_bind()
        if kind is None:
            broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"foreign keys broken by the sites migration: {broken[:5]}")
        bind.exec_driver_sql("COMMIT" if kind is None else "ROLLBACK")
        bind.exec_driver_sql("PRAGMA legacy_alter_table=OFF")
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
        bind.exec_driver_sql("BEGIN")
        return False


def _dispatch_checks_up(batch) -> None:
    batch.drop_constraint(op.f('ck_dispatches_status'), type_='check')
    batch.drop_constraint(op.f('ck_dispatches_dispatched_at_status'), type_='check')
    batch.create_check_constraint(op.f('ck_dispatches_status'), NEW_STATUS)
    batch.create_check_constraint(op.f('ck_dispatches_dispatched_at_status'), NEW_DISPATCHED_AT)
    batch.create_check_constraint(op.f('ck_dispatches_received_at_status'), RECEIVED_AT)
    batch.create_check_constraint(op.f('ck_dispatches_transfer_to_other_site'), OTHER_SITE)


def _dispatch_checks_down(batch) -> None:
    batch.drop_constraint(op.f('ck_dispatches_transfer_to_other_site'), type_='check')
    batch.drop_constraint(op.f('ck_dispatches_received_at_status'), type_='check')
    batch.drop_constraint(op.f('ck_dispatches_dispatched_at_status'), type_='check')
    batch.drop_constraint(op.f('ck_dispatches_status'), type_='check')
    batch.create_check_constraint(op.f('ck_dispatches_status'), OLD_STATUS)
    batch.create_check_constraint(op.f('ck_dispatches_dispatched_at_status'), OLD_DISPATCHED_AT)


def _swap_indexes(up: bool) -> None:
    for table, old, new, new_columns, old_columns, where in INDEXES:
        drop, create, columns = (old, new, new_columns) if up else (new, old, old_columns)
        op.drop_index(drop, table_name=table)
        partial = {} if where is None else {'postgresql_where': sa.text(where),
                                            'sqlite_where': sa.text(where)}
        op.create_index(create, table, columns, **partial)


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        'sites',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('code = upper(code)', name=op.f('ck_sites_code_upper')),
        sa.CheckConstraint('length(code) BETWEEN 2 AND 16', name=op.f('ck_sites_code_length')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
        sa.UniqueConstraint('code', name=op.f('uq_sites_code')),
    )
    op.create_table(
        'user_sites',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE',
                                name=op.f('fk_user_sites_user_id_users')),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='CASCADE',
                                name=op.f('fk_user_sites_site_id_sites')),
        sa.PrimaryKeyConstraint('user_id', 'site_id', name=op.f('pk_user_sites')),
    )
    op.create_index(op.f('ix_user_sites_site_id'), 'user_sites', ['site_id'])
    code, zone = default_site()
    bind = op.get_bind()
    bind.execute(sa.text("INSERT INTO sites (code, name, timezone, created_at) "
                         "VALUES (:code, :name, :zone, CURRENT_TIMESTAMP)"),
                 {"code": code, "name": code.title() if code != 'MAIN' else 'Main warehouse',
                  "zone": zone})
    site_id = bind.execute(sa.text("SELECT id FROM sites WHERE code = :code"),
                           {"code": code}).scalar_one()
    op.execute(f"INSERT INTO user_sites (user_id, site_id) "
               f"SELECT id, {int(site_id)} FROM users WHERE role <> 'admin'")

    if dialect == 'postgresql':
        for table in OWNED:
            op.add_column(table, sa.Column('site_id', sa.Integer(), nullable=False,
                                           server_default=sa.text(str(int(site_id)))))
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_site_id_sites "
                       f"FOREIGN KEY (site_id) REFERENCES sites (id) NOT VALID")
            op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT fk_{table}_site_id_sites")
        op.add_column('dispatches', sa.Column('destination_site_id', sa.Integer(),
                                              nullable=True))
        op.create_foreign_key(op.f('fk_dispatches_destination_site_id_sites'), 'dispatches',
                              'sites', ['destination_site_id'], ['id'])
        op.add_column('dispatches', sa.Column('received_at', sa.DateTime(timezone=True),
                                              nullable=True))
        with op.batch_alter_table('dispatches') as batch:  # plain ALTERs on PostgreSQL
            _dispatch_checks_up(batch)
        op.add_column('dispatch_items', sa.Column('received_by_id', sa.Integer(),
                                                  nullable=True))
        op.create_foreign_key(op.f('fk_dispatch_items_received_by_id_users'), 'dispatch_items',
                              'users', ['received_by_id'], ['id'])
    else:
        # A column with a foreign key and a NULL default is a plain ALTER on SQLite too.
        op.execute("ALTER TABLE dispatch_items ADD COLUMN received_by_id INTEGER "
                   "CONSTRAINT fk_dispatch_items_received_by_id_users REFERENCES users (id)")
        op.execute("ALTER TABLE dispatches ADD COLUMN destination_site_id INTEGER "
                   "CONSTRAINT fk_dispatches_destination_site_id_sites REFERENCES sites (id)")
        op.add_column('dispatches', sa.Column('received_at', sa.DateTime(timezone=True),
                                              nullable=True))
        with SqliteForeignKeysOff():
            for table in OWNED:
                op.execute(f"ALTER TABLE {table} ADD COLUMN site_id INTEGER NOT NULL "
                           f"DEFAULT {int(site_id)} CONSTRAINT fk_{table}_site_id_sites "
                           f"REFERENCES sites (id)")
            _sqlite_rebuild('dispatches', _dispatch_checks_up)
    op.create_index('ix_dispatches_destination_site_id', 'dispatches', ['destination_site_id'],
                    postgresql_where=sa.text('destination_site_id IS NOT NULL'),
                    sqlite_where=sa.text('destination_site_id IS NOT NULL'))
    op.add_column('dispatch_items', sa.Column('received_at', sa.DateTime(timezone=True),
                                              nullable=True))
    if dialect == 'postgresql':
        with op.batch_alter_table('dispatch_items') as batch:
            _item_checks_up(batch)
    else:
        with SqliteForeignKeysOff():
            _sqlite_rebuild('dispatch_items', _item_checks_up)
        for statement in SQLITE_ONE_UPDATE_COUNT:
            op.execute(statement)
    op.add_column('api_tokens', sa.Column('sites', sa.String(length=200), nullable=True))
    _swap_indexes(up=True)
    for statement in no_update_trigger(dialect, FIXED + ", site_id"):
        op.execute(statement)
    recount(dialect, with_site=True)


def downgrade():
    dialect = op.get_bind().dialect.name
    recount(dialect, with_site=False)
    for statement in no_update_trigger(dialect, FIXED):
        op.execute(statement)
    _swap_indexes(up=False)
    op.drop_column('api_tokens', 'sites')
    op.drop_index('ix_dispatches_destination_site_id', table_name='dispatches')
    # Transfers received become plain dispatched ones (the old statuses know no more).
    op.execute("UPDATE dispatches SET status = 'dispatched' WHERE status = 'received'")
    op.execute("UPDATE dispatch_items SET state = 'loaded', received_at = NULL "
               "WHERE state = 'received'")
    if dialect == 'postgresql':
        with op.batch_alter_table('dispatch_items') as batch:
            _item_checks_down(batch)
    else:
        for statement in SQLITE_TWO_UPDATE_COUNTS:
            op.execute(statement)
        with SqliteForeignKeysOff():
            _sqlite_rebuild('dispatch_items', _item_checks_down)
    op.drop_column('dispatch_items', 'received_at')
    if dialect == 'postgresql':
        op.drop_constraint(op.f('fk_dispatch_items_received_by_id_users'), 'dispatch_items',
                           type_='foreignkey')
        op.drop_column('dispatch_items', 'received_by_id')
        with op.batch_alter_table('dispatches') as batch:
            _dispatch_checks_down(batch)
        op.drop_constraint(op.f('fk_dispatches_destination_site_id_sites'), 'dispatches',
                           type_='foreignkey')
        op.drop_column('dispatches', 'received_at')
        op.drop_column('dispatches', 'destination_site_id')
        for table in OWNED:
            op.drop_constraint(f'fk_{table}_site_id_sites', table, type_='foreignkey')
            op.drop_column(table, 'site_id')
    else:
        with SqliteForeignKeysOff():
            # ALTER TABLE ... DROP COLUMN refuses a column with a foreign key: rebuilt.
            _sqlite_rebuild('dispatch_items', lambda batch: batch.drop_column('received_by_id'))
            _sqlite_rebuild('dispatches', lambda batch: (
                _dispatch_checks_down(batch), batch.drop_column('received_at'),
                batch.drop_column('destination_site_id'), batch.drop_column('site_id')))
            for table in OWNED:
                if table != 'dispatches':
                    _sqlite_rebuild(table, lambda batch: batch.drop_column('site_id'))
    op.drop_index(op.f('ix_user_sites_site_id'), table_name='user_sites')
    op.drop_table('user_sites')
    op.drop_table('sites')


def _sqlite_rebuild(table: str, change) -> None:
    """A batch (rebuild) change of `table`, keeping its triggers and indexes (as 0013)."""
    bind = op.get_bind()
    saved = bind.execute(sa.text(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = :table"
        " AND type IN ('trigger', 'index') AND sql IS NOT NULL"), {"table": table}).all()
    with op.batch_alter_table(table, recreate='always') as batch:
        change(batch)
    for kind, name, sql in saved:
        op.execute(f"DROP {kind.upper()} IF EXISTS {name}")
        op.execute(sql)
