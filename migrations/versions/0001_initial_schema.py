"""initial schema

users, bags, scan_events, audit_events, and the triggers that hold the bag invariants
(child_count, parent kind, fixed kind) and keep scan_events append-only.

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-28 18:08:26.767501

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('failed_login_count', sa.Integer(), nullable=False),
    sa.Column('last_failed_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('staff', 'supervisor', 'admin')", name=op.f('ck_users_role')),
    sa.CheckConstraint('session_version >= 1', name=op.f('ck_users_session_version')),
    sa.CheckConstraint('username = lower(username)', name=op.f('ck_users_username_lower')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_created_at', ['created_at'], unique=False)

    op.create_table('bags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('child_count', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(kind = 'parent' AND status IN ('open', 'complete') AND capacity > 0 AND child_count IS NOT NULL AND parent_id IS NULL) OR (kind = 'child' AND capacity IS NULL AND child_count IS NULL AND ((status = 'linked' AND parent_id IS NOT NULL) OR (status = 'unlinked' AND parent_id IS NULL)))", name=op.f('ck_bags_kind_shape')),
    sa.CheckConstraint("kind IN ('parent', 'child')", name=op.f('ck_bags_kind')),
    sa.CheckConstraint('child_count BETWEEN 0 AND capacity', name=op.f('ck_bags_child_count_capacity')),
    sa.CheckConstraint('parent_id IS NULL OR parent_id <> id', name=op.f('ck_bags_not_own_parent')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_bags_created_by_id_users')),
    sa.ForeignKeyConstraint(['parent_id'], ['bags.id'], name=op.f('fk_bags_parent_id_bags'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bags')),
    sa.UniqueConstraint('code', name=op.f('uq_bags_code'))
    )
    with op.batch_alter_table('bags', schema=None) as batch_op:
        batch_op.create_index('ix_bags_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_bags_parent_id_linked_at', ['parent_id', 'linked_at'], unique=False)

    op.create_table('scan_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client_scanned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('result', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('bag_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('scan_id', sa.String(length=64), nullable=True),
    sa.Column('station', sa.String(length=64), nullable=True),
    sa.CheckConstraint("outcome IN ('accepted', 'rejected')", name=op.f('ck_scan_events_outcome')),
    sa.ForeignKeyConstraint(['bag_id'], ['bags.id'], name=op.f('fk_scan_events_bag_id_bags'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_id'], ['bags.id'], name=op.f('fk_scan_events_parent_id_bags'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_scan_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_events')),
    sa.UniqueConstraint('scan_id', name=op.f('uq_scan_events_scan_id'))
    )
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.create_index('ix_scan_events_bag_id_created_at', ['bag_id', 'created_at'], unique=False)
        batch_op.create_index('ix_scan_events_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_scan_events_parent_id_created_at', ['parent_id', 'created_at'], unique=False)
        batch_op.create_index('ix_scan_events_user_id_created_at', ['user_id', 'created_at'], unique=False)

    create_triggers()


def downgrade():
    drop_triggers()
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_events_user_id_created_at')
        batch_op.drop_index('ix_scan_events_parent_id_created_at')
        batch_op.drop_index('ix_scan_events_created_at')
        batch_op.drop_index('ix_scan_events_bag_id_created_at')

    op.drop_table('scan_events')
    with op.batch_alter_table('bags', schema=None) as batch_op:
        batch_op.drop_index('ix_bags_parent_id_linked_at')
        batch_op.drop_index('ix_bags_created_at')

    op.drop_table('bags')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_created_at')

    op.drop_table('audit_events')
    op.drop_table('users')


# child_count is maintained here, in the database, for every writer (scans, imports,
# corrections, hand-written SQL), and the CHECK constraint keeps it within capacity.
POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION bags_keep_invariants() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF NEW.kind <> OLD.kind THEN
                RAISE EXCEPTION 'bag % keeps its kind %', OLD.code, OLD.kind
                    USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.parent_id IS NOT DISTINCT FROM OLD.parent_id THEN
                RETURN NULL;
            END IF;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            IF OLD.parent_id IS NOT NULL THEN
                UPDATE bags SET child_count = child_count - 1 WHERE id = OLD.parent_id;
            END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            IF NEW.parent_id IS NOT NULL THEN
                UPDATE bags SET child_count = child_count + 1
                 WHERE id = NEW.parent_id AND kind = 'parent';
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'bag % can only go into a parent bag', NEW.code
                        USING ERRCODE = 'foreign_key_violation';
                END IF;
            END IF;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER bags_keep_invariants
    AFTER INSERT OR DELETE OR UPDATE OF parent_id, kind ON bags
    FOR EACH ROW EXECUTE FUNCTION bags_keep_invariants()
    """,
    """
    CREATE FUNCTION scan_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'scan_events are append-only: record a new event instead'
            USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER scan_events_no_delete BEFORE DELETE ON scan_events
    FOR EACH ROW EXECUTE FUNCTION scan_events_append_only()
    """,
    # bag_id and parent_id may still be set to NULL by ON DELETE SET NULL when a supervisor
    # deletes a bag created by mistake; every other column is fixed.
    """
    CREATE TRIGGER scan_events_no_update
    BEFORE UPDATE OF id, created_at, client_scanned_at, user_id, action, outcome, result,
        code, reason, scan_id, station ON scan_events
    FOR EACH ROW EXECUTE FUNCTION scan_events_append_only()
    """,
]

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER bags_fixed_kind BEFORE UPDATE OF kind ON bags
    WHEN NEW.kind <> OLD.kind
    BEGIN SELECT RAISE(ABORT, 'a bag keeps its kind'); END
    """,
    """
    CREATE TRIGGER bags_parent_is_parent_insert BEFORE INSERT ON bags
    WHEN NEW.parent_id IS NOT NULL
     AND (SELECT kind FROM bags WHERE id = NEW.parent_id) IS NOT 'parent'
    BEGIN SELECT RAISE(ABORT, 'a bag can only go into a parent bag'); END
    """,
    """
    CREATE TRIGGER bags_parent_is_parent_update BEFORE UPDATE OF parent_id ON bags
    WHEN NEW.parent_id IS NOT NULL
     AND (SELECT kind FROM bags WHERE id = NEW.parent_id) IS NOT 'parent'
    BEGIN SELECT RAISE(ABORT, 'a bag can only go into a parent bag'); END
    """,
    """
    CREATE TRIGGER bags_child_count_insert AFTER INSERT ON bags
    WHEN NEW.parent_id IS NOT NULL
    BEGIN UPDATE bags SET child_count = child_count + 1 WHERE id = NEW.parent_id; END
    """,
    """
    CREATE TRIGGER bags_child_count_delete AFTER DELETE ON bags
    WHEN OLD.parent_id IS NOT NULL
    BEGIN UPDATE bags SET child_count = child_count - 1 WHERE id = OLD.parent_id; END
    """,
    """
    CREATE TRIGGER bags_child_count_update AFTER UPDATE OF parent_id ON bags
    WHEN OLD.parent_id IS NOT NEW.parent_id
    BEGIN
        UPDATE bags SET child_count = child_count - 1 WHERE id = OLD.parent_id;
        UPDATE bags SET child_count = child_count + 1 WHERE id = NEW.parent_id;
    END
    """,
    """
    CREATE TRIGGER scan_events_no_delete BEFORE DELETE ON scan_events
    BEGIN SELECT RAISE(ABORT, 'scan_events are append-only: record a new event instead'); END
    """,
    """
    CREATE TRIGGER scan_events_no_update
    BEFORE UPDATE OF id, created_at, client_scanned_at, user_id, action, outcome, result,
        code, reason, scan_id, station ON scan_events
    BEGIN SELECT RAISE(ABORT, 'scan_events are append-only: record a new event instead'); END
    """,
]

DROP_POSTGRESQL = [
    "DROP TRIGGER IF EXISTS scan_events_no_update ON scan_events",
    "DROP TRIGGER IF EXISTS scan_events_no_delete ON scan_events",
    "DROP FUNCTION IF EXISTS scan_events_append_only()",
    "DROP TRIGGER IF EXISTS bags_keep_invariants ON bags",
    "DROP FUNCTION IF EXISTS bags_keep_invariants()",
]
DROP_SQLITE = [
    f"DROP TRIGGER IF EXISTS {name}" for name in (
        "bags_fixed_kind", "bags_parent_is_parent_insert", "bags_parent_is_parent_update",
        "bags_child_count_insert", "bags_child_count_delete", "bags_child_count_update",
        "scan_events_no_delete", "scan_events_no_update")
]


def create_triggers():
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def drop_triggers():
    dialect = op.get_bind().dialect.name
    for statement in DROP_POSTGRESQL if dialect == "postgresql" else DROP_SQLITE:
        op.execute(statement)
