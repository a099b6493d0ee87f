"""The schema comes from Alembic alone: one head; an empty database upgrades to exactly what
the models describe, downgrades to nothing and upgrades again; and the invariants of
DESIGN.md section 3 hold in the database itself, whoever writes the SQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app import create_app
from app.config import PROJECT_ROOT
from app.extensions import db
from tests.helpers import pg_only

MIGRATIONS = PROJECT_ROOT / "migrations"
TABLES = {"users", "bags", "scan_events", "audit_events"}


def script_directory() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_single_head_and_single_base():
    script = script_directory()

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    revisions = list(script.walk_revisions())
    assert revisions, "no migration revisions found"
    assert all(len(rev.nextrev) <= 1 for rev in revisions), "the history branches"


# --- upgrade / compare / downgrade on an empty database -----------------------------------------

def schema_differences() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def round_trip(url: str) -> None:
    settings = {"SQLALCHEMY_DATABASE_URI": url}
    if url.startswith("sqlite"):
        # TestingConfig derives the engine options from TEST_DATABASE_URL, which on a
        # PostgreSQL run carry psycopg connect_args that sqlite3 refuses.
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    application = create_app("testing", settings)
    with application.app_context():
        try:
            assert table_names() == set()

            upgrade()
            assert TABLES <= table_names()
            assert schema_differences() == []

            downgrade(revision="base")
            assert table_names() <= {"alembic_version"}

            upgrade()
            assert TABLES <= table_names()
            assert schema_differences() == []
            check_child_count_trigger()
        finally:
            db.session.remove()
            db.engine.dispose()


def check_child_count_trigger() -> None:
    """The triggers come back with the second upgrade, not only the tables."""
    parent = insert_parent("SB00001")
    insert_child("0000001", parent)
    assert child_count(parent) == 1
    db.session.rollback()


def test_upgrade_downgrade_upgrade_on_empty_sqlite(tmp_path):
    round_trip(f"sqlite:///{tmp_path / 'empty.db'}")


@pg_only
def test_upgrade_downgrade_upgrade_on_empty_postgresql(empty_postgres_url):
    round_trip(empty_postgres_url)


def test_test_database_is_at_the_head_revision(app):
    current = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    db.session.rollback()

    assert current == script_directory().get_current_head()
    assert schema_differences() == []


# --- invariants held by the database ------------------------------------------------------

def insert_parent(code: str, capacity: int = 3) -> int:
    db.session.execute(text(
        "INSERT INTO bags (code, kind, status, capacity, child_count, created_at) "
        "VALUES (:code, 'parent', 'open', :capacity, 0, CURRENT_TIMESTAMP)"),
        {"code": code, "capacity": capacity})
    return bag_id(code)


def insert_child(code: str, parent_id: int | None = None) -> int:
    db.session.execute(text(
        "INSERT INTO bags (code, kind, status, parent_id, created_at) "
        "VALUES (:code, 'child', :status, :parent_id, CURRENT_TIMESTAMP)"),
        {"code": code, "status": "linked" if parent_id else "unlinked", "parent_id": parent_id})
    return bag_id(code)


def bag_id(code: str) -> int:
    return db.session.scalar(text("SELECT id FROM bags WHERE code = :code"), {"code": code})


def child_count(parent_id: int) -> int:
    return db.session.scalar(text("SELECT child_count FROM bags WHERE id = :id"),
                             {"id": parent_id})


def move(child_id: int, parent_id: int | None) -> None:
    db.session.execute(text(
        "UPDATE bags SET parent_id = :parent_id, status = :status WHERE id = :id"),
        {"id": child_id, "parent_id": parent_id,
         "status": "linked" if parent_id else "unlinked"})


def refused(statement: str, params: dict | None = None, error=IntegrityError) -> None:
    """The statement fails in the database; the transaction is rolled back after it."""
    with pytest.raises(error):
        db.session.execute(text(statement), params or {})
        db.session.flush()
    db.session.rollback()


def test_child_cannot_go_into_a_child(app):
    parent = insert_parent("SB00001")
    child = insert_child("0000001", parent)
    loose = insert_child("0000002")
    db.session.commit()

    refused("INSERT INTO bags (code, kind, status, parent_id, created_at) "
            "VALUES ('0000003', 'child', 'linked', :parent, CURRENT_TIMESTAMP)",
            {"parent": child})
    refused("UPDATE bags SET parent_id = :parent, status = 'linked' WHERE id = :id",
            {"parent": child, "id": loose})
    refused("UPDATE bags SET parent_id = :id, status = 'linked' WHERE id = :id",
            {"id": loose})

    assert bag_id("0000003") is None
    assert child_count(parent) == 1
    db.session.rollback()


def test_parent_cannot_go_into_a_parent(app):
    outer = insert_parent("SB00001")
    inner = insert_parent("SB00002")
    db.session.commit()

    refused("UPDATE bags SET parent_id = :outer WHERE id = :inner",
            {"outer": outer, "inner": inner})


def test_child_count_cannot_exceed_capacity(app):
    parent = insert_parent("SB00001", capacity=2)
    insert_child("0000001", parent)
    insert_child("0000002", parent)
    db.session.commit()

    refused("UPDATE bags SET child_count = capacity + 1 WHERE id = :id", {"id": parent})
    refused("INSERT INTO bags (code, kind, status, parent_id, created_at) "
            "VALUES ('0000003', 'child', 'linked', :parent, CURRENT_TIMESTAMP)",
            {"parent": parent})
    refused("UPDATE bags SET child_count = -1 WHERE id = :id", {"id": parent})

    assert child_count(parent) == 2
    db.session.rollback()


def test_bag_kind_cannot_change(app):
    parent = insert_parent("SB00001")
    child = insert_child("0000001")
    db.session.commit()

    # Each statement leaves a row that satisfies every CHECK: only the fixed kind refuses it.
    refused("UPDATE bags SET kind = 'child', status = 'unlinked', capacity = NULL, "
            "child_count = NULL WHERE id = :id", {"id": parent})
    refused("UPDATE bags SET kind = 'parent', status = 'open', capacity = 3, "
            "child_count = 0 WHERE id = :id", {"id": child})

    kinds = dict(db.session.execute(text("SELECT code, kind FROM bags")).all())
    db.session.rollback()
    assert kinds == {"SB00001": "parent", "0000001": "child"}


def test_code_is_unique_across_kinds(app):
    insert_parent("SB00001")
    db.session.commit()

    refused("INSERT INTO bags (code, kind, status, created_at) "
            "VALUES ('SB00001', 'child', 'unlinked', CURRENT_TIMESTAMP)")


def test_scan_events_are_append_only(app, staff):
    parent = insert_parent("SB00001")
    db.session.execute(text(
        "INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, bag_id, "
        "parent_id) VALUES (CURRENT_TIMESTAMP, :user, 'parent', 'accepted', 'parent_created', "
        "'SB00001', :bag, :bag)"), {"user": staff.id, "bag": parent})
    db.session.commit()
    event = db.session.scalar(text("SELECT id FROM scan_events"))
    db.session.rollback()

    refused("UPDATE scan_events SET result = 'linked' WHERE id = :id", {"id": event})
    refused("UPDATE scan_events SET outcome = 'rejected' WHERE id = :id", {"id": event})
    refused("UPDATE scan_events SET code = 'SB00002' WHERE id = :id", {"id": event})
    refused("DELETE FROM scan_events WHERE id = :id", {"id": event})
    refused("DELETE FROM scan_events")

    row = db.session.execute(text("SELECT result, outcome, code FROM scan_events")).one()
    db.session.rollback()
    assert tuple(row) == ("parent_created", "accepted", "SB00001")


def test_child_count_follows_inserts_updates_and_deletes(app):
    first = insert_parent("SB00001")
    second = insert_parent("SB00002")
    a = insert_child("0000001", first)
    b = insert_child("0000002", first)
    assert (child_count(first), child_count(second)) == (2, 0)

    move(a, second)
    assert (child_count(first), child_count(second)) == (1, 1)

    move(b, None)
    assert (child_count(first), child_count(second)) == (0, 1)

    move(b, first)
    assert (child_count(first), child_count(second)) == (1, 1)

    # An update that does not move the child leaves the counts alone.
    db.session.execute(text("UPDATE bags SET linked_at = CURRENT_TIMESTAMP WHERE id = :id"),
                       {"id": b})
    db.session.execute(text("UPDATE bags SET parent_id = parent_id WHERE id = :id"), {"id": b})
    assert (child_count(first), child_count(second)) == (1, 1)

    db.session.execute(text("DELETE FROM bags WHERE id = :id"), {"id": a})
    assert (child_count(first), child_count(second)) == (1, 0)
    db.session.commit()

    counts = db.session.execute(text(
        "SELECT p.code, p.child_count, (SELECT count(*) FROM bags c WHERE c.parent_id = p.id) "
        "FROM bags p WHERE p.kind = 'parent' ORDER BY p.code")).all()
    db.session.rollback()
    assert [tuple(row) for row in counts] == [("SB00001", 1, 1), ("SB00002", 0, 0)]


def test_parent_with_children_cannot_be_deleted(app):
    parent = insert_parent("SB00001")
    insert_child("0000001", parent)
    db.session.commit()

    refused("DELETE FROM bags WHERE id = :id", {"id": parent}, error=DBAPIError)

    assert child_count(parent) == 1
    db.session.rollback()


def test_deleting_a_bag_keeps_its_scan_events(app, staff):
    parent = insert_parent("SB00001")
    db.session.execute(text(
        "INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, bag_id, "
        "parent_id) VALUES (CURRENT_TIMESTAMP, :user, 'parent', 'accepted', 'parent_created', "
        "'SB00001', :bag, :bag)"), {"user": staff.id, "bag": parent})
    db.session.commit()

    db.session.execute(text("DELETE FROM bags WHERE id = :id"), {"id": parent})
    db.session.commit()

    row = db.session.execute(text("SELECT code, bag_id, parent_id FROM scan_events")).one()
    db.session.rollback()
    assert tuple(row) == ("SB00001", None, None)


def test_foreign_keys_are_enforced(app):
    refused("INSERT INTO scan_events (created_at, user_id, action, outcome, result, code) "
            "VALUES (CURRENT_TIMESTAMP, 999999, 'parent', 'accepted', 'parent_created', "
            "'SB00001')")
