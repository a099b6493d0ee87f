"""flask users create / users ensure-admin / seed-demo."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.auth.passwords import verify_password
from app.extensions import db
from app.models import Bag, ScanEvent, User
from tests.helpers import PASSWORD

GOOD_PASSWORD = "seven blue crates at dawn"


@pytest.fixture(autouse=True)
def no_admin_env(monkeypatch):
    monkeypatch.delenv("ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)


def users_named(username: str) -> list[User]:
    users = list(db.session.scalars(select(User).where(User.username == username)))
    db.session.rollback()
    return users


def test_users_create_with_password_from_stdin(runner):
    result = runner.invoke(args=["users", "create", "Nadia", "--role", "staff",
                                 "--password-stdin"], input=GOOD_PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert "nadia" in result.output
    [user] = users_named("nadia")
    assert user.role == "staff"
    assert user.is_active
    assert verify_password(user.password_hash, GOOD_PASSWORD)
    assert not verify_password(user.password_hash, GOOD_PASSWORD + "x")


def test_users_create_keeps_the_whole_password_line(runner):
    password = "  spaces at both ends count too  "
    result = runner.invoke(args=["users", "create", "omar", "--role", "supervisor",
                                 "--password-stdin"], input=password + "\r\n")

    assert result.exit_code == 0, result.output
    [user] = users_named("omar")
    assert user.role == "supervisor"
    assert verify_password(user.password_hash, password)


@pytest.mark.parametrize("password", ["short", "password", "12345678", "nadia-is-great"])
def test_users_create_refuses_a_weak_password(runner, password):
    result = runner.invoke(args=["users", "create", "nadia", "--role", "staff",
                                 "--password-stdin"], input=password + "\n")

    assert result.exit_code != 0
    assert "password" in result.output.lower() or "characters" in result.output.lower()
    assert users_named("nadia") == []


def test_users_create_refuses_a_duplicate_username(runner, staff):
    result = runner.invoke(args=["users", "create", "STELLA", "--role", "admin",
                                 "--password-stdin"], input=GOOD_PASSWORD + "\n")

    assert result.exit_code != 0
    assert "taken" in result.output
    [user] = users_named("stella")
    assert user.role == "staff"
    assert verify_password(user.password_hash, PASSWORD)


def test_users_create_refuses_an_unknown_role(runner):
    result = runner.invoke(args=["users", "create", "nadia", "--role", "root",
                                 "--password-stdin"], input=GOOD_PASSWORD + "\n")

    assert result.exit_code != 0
    assert users_named("nadia") == []


@pytest.mark.parametrize("typed", ["", "\n", "\n\n", "\n\n\n"])
def test_users_create_has_no_default_password(runner, typed):
    """Without --password-stdin the password is asked for; pressing Enter (or closing the
    input) creates nothing: there is no default to fall back on."""
    result = runner.invoke(args=["users", "create", "nadia", "--role", "staff"], input=typed)

    assert result.exit_code != 0
    assert users_named("nadia") == []


def test_users_create_with_empty_stdin_password_is_refused(runner):
    result = runner.invoke(args=["users", "create", "nadia", "--role", "staff",
                                 "--password-stdin"], input="")

    assert result.exit_code != 0
    assert users_named("nadia") == []


def test_users_create_prompt_needs_matching_confirmation(runner):
    result = runner.invoke(args=["users", "create", "nadia", "--role", "staff"],
                           input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")

    assert result.exit_code == 0, result.output
    [user] = users_named("nadia")
    assert verify_password(user.password_hash, GOOD_PASSWORD)


def test_ensure_admin_creates_one_admin_from_the_environment_once(runner):
    env = {"ADMIN_USERNAME": "Boss", "ADMIN_PASSWORD": GOOD_PASSWORD}

    first = runner.invoke(args=["users", "ensure-admin"], env=env)
    second = runner.invoke(args=["users", "ensure-admin"], env=env)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    [user] = users_named("boss")
    assert user.role == "admin"
    assert user.is_active
    assert verify_password(user.password_hash, GOOD_PASSWORD)
    admins = db.session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))
    db.session.rollback()
    assert admins == 1


def test_ensure_admin_leaves_an_existing_admin_alone(runner, admin):
    result = runner.invoke(args=["users", "ensure-admin"],
                           env={"ADMIN_USERNAME": "boss", "ADMIN_PASSWORD": GOOD_PASSWORD})

    assert result.exit_code == 0, result.output
    assert users_named("boss") == []


def test_ensure_admin_refuses_a_weak_admin_password(runner):
    result = runner.invoke(args=["users", "ensure-admin"],
                           env={"ADMIN_USERNAME": "boss", "ADMIN_PASSWORD": "password"})

    assert result.exit_code != 0
    assert users_named("boss") == []


def test_ensure_admin_without_environment_or_terminal_fails_naming_the_variable(runner):
    result = runner.invoke(args=["users", "ensure-admin"], input="")

    assert result.exit_code != 0
    assert "ADMIN_USERNAME" in result.output
    admins = db.session.scalar(select(func.count()).select_from(User))
    db.session.rollback()
    assert admins == 0


def test_ensure_admin_with_only_a_username_fails_without_terminal(runner):
    result = runner.invoke(args=["users", "ensure-admin"], env={"ADMIN_USERNAME": "boss"})

    assert result.exit_code != 0
    assert "ADMIN_PASSWORD" in result.output
    assert users_named("boss") == []


def test_seed_demo_needs_a_user(runner):
    result = runner.invoke(args=["seed-demo", "--parents", "2"])

    assert result.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(Bag)) == 0
    db.session.rollback()


def test_seed_demo_writes_consistent_bags_and_refused_scans(runner, admin):
    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    child = aliased(Bag)
    parents = db.session.execute(
        select(Bag.code, Bag.child_count, Bag.capacity, Bag.status,
               select(func.count(child.id)).where(child.parent_id == Bag.id)
               .correlate(Bag).scalar_subquery())
        .where(Bag.kind == "parent")).all()
    linked = db.session.scalar(
        select(func.count()).select_from(Bag).where(Bag.kind == "child", Bag.parent_id.is_not(None)))
    rejected = db.session.scalar(
        select(func.count()).select_from(ScanEvent).where(ScanEvent.outcome == "rejected"))
    accepted = db.session.scalar(
        select(func.count()).select_from(ScanEvent).where(ScanEvent.outcome == "accepted"))
    db.session.rollback()

    assert len(parents) == 12
    for code, child_count, capacity, status, real_children in parents:
        assert child_count == real_children, code
        assert child_count <= capacity
        assert status == ("complete" if child_count == capacity else "open")
    assert linked == sum(row.child_count for row in parents) > 0
    assert rejected > 0
    assert accepted >= 12 + linked
    assert f"{rejected} refused" in result.output


def test_seed_demo_twice_adds_new_bags_without_clashing(runner, admin):
    first = runner.invoke(args=["seed-demo", "--parents", "2", "--seed", "1"])
    second = runner.invoke(args=["seed-demo", "--parents", "2", "--seed", "1"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    parents = db.session.scalar(select(func.count()).select_from(Bag).where(Bag.kind == "parent"))
    db.session.rollback()
    assert parents == 4


def test_seed_demo_as_a_named_user(runner, admin, staff):
    result = runner.invoke(args=["seed-demo", "--parents", "1", "--user", "stella"])

    assert result.exit_code == 0, result.output
    scanners = set(db.session.scalars(select(ScanEvent.user_id).distinct()))
    db.session.rollback()
    assert scanners == {staff.id}


def test_seed_demo_records_refused_scans_for_a_small_set(runner, admin):
    """The docstring promises a few refused scans in every demo set, not only when some
    parent happens to stay open."""
    result = runner.invoke(args=["seed-demo", "--parents", "2"])

    assert result.exit_code == 0, result.output
    rejected = db.session.scalar(
        select(func.count()).select_from(ScanEvent).where(ScanEvent.outcome == "rejected"))
    db.session.rollback()
    assert rejected > 0


def test_seed_demo_spreads_the_scans_over_demo_staff_not_the_admin(runner, admin):
    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    scanners = set(db.session.scalars(
        select(User.username).join(ScanEvent, ScanEvent.user_id == User.id).distinct()))
    db.session.rollback()
    assert admin.username not in scanners
    assert len(scanners) >= 2 and all(name.startswith("demo-") for name in scanners)
    assert "scanned by demo-anna, demo-ben, demo-chen" in result.output
