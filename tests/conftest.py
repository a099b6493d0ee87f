"""Fixtures: app, client, runner, login_as, data factories.

The same suite runs on SQLite (default) and on PostgreSQL when TEST_DATABASE_URL is set.
The schema is built by the Alembic migrations (the production schema, triggers included),
once per run; each test then starts from empty tables: a copy of the migrated SQLite file,
or TRUNCATE on PostgreSQL."""

from __future__ import annotations

import itertools
import os
import shutil

import pytest
from flask import g
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.config import normalise_database_url
from app.extensions import db
from tests.helpers import ON_POSTGRES, PASSWORD, TEST_DATABASE_URL, log_in

TABLES = ("daily_sends", "dispatch_items", "dispatches", "scan_events", "audit_events", "bags", "users",
          "label_codes", "label_series", "label_counters", "api_tokens", "user_sites")

def pytest_configure(config):
    config.addinivalue_line("markers", "pg_only: runs only on PostgreSQL")
    config.addinivalue_line("markers", "faults: real gunicorn and a throwaway PostgreSQL cluster "
                                       "of their own (tests/runtime/test_faults.py)")
    config.addinivalue_line("markers", "deploy: app hosts behind a real nginx, PostgreSQL only "
                                       "(tests/deploy/, issue 24)")
    if os.environ.get("REQUIRE_POSTGRES") == "1" and not ON_POSTGRES:
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not a PostgreSQL URL.")


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + TEST_DATABASE_URL if ON_POSTGRES else 'SQLite (set TEST_DATABASE_URL for PostgreSQL)'}"


def _migrate(url: str) -> None:
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """The migrated database every test starts from."""
    if ON_POSTGRES:
        url = normalise_database_url(TEST_DATABASE_URL)
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        except OperationalError as exc:  # a PostgreSQL run that cannot reach it must fail
            pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL does not answer: {exc}", 3)
        finally:
            engine.dispose()
        _migrate(url)
        return url
    path = tmp_path_factory.mktemp("db") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


_counter = itertools.count()


@pytest.fixture
def database_url(database_template, tmp_path):
    if ON_POSTGRES:
        yield database_template
        engine = create_engine(database_template)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            # The migration's default site stays, as the migration made it (a test may rename
            # it: schemathesis sends the API's example to PATCH /api/v1/sites/MAIN); the sites
            # a test made go.
            conn.execute(text("DELETE FROM sites WHERE code <> 'MAIN'"))
            conn.execute(text("UPDATE sites SET name = 'Main warehouse' WHERE code = 'MAIN'"))
        engine.dispose()
    else:
        path = tmp_path / f"test-{next(_counter)}.db"
        shutil.copyfile(database_template, path)
        yield f"sqlite:///{path}"


def _forget_user() -> None:
    """Tests keep an app context pushed and the test client reuses it for every request, so
    Flask-Login's cached g._login_user would carry one client's user over to the next
    request. Each request loads its own user, as in production."""
    g.pop("_login_user", None)


def _site_keeps_app_timezone(application, database_url: str) -> None:
    """The tests written before sites set APP_TIMEZONE for "the warehouse's" clock: that is
    now the default site's time zone (issue 21), which follows the app's setting here. (Not
    for an app built on purpose on a database that is down.)"""
    if application.config["SQLALCHEMY_DATABASE_URI"] != database_url:
        return
    with application.app_context():
        db.session.execute(text("UPDATE sites SET timezone = :zone WHERE code = 'MAIN'"),
                           {"zone": application.config["APP_TIMEZONE"]})
        db.session.commit()
        db.session.remove()


@pytest.fixture
def make_app(database_url):
    """Build an app with config overrides (CSRF or rate limits on, a dead database...)."""
    apps = []

    def factory(**overrides):
        settings = {"SQLALCHEMY_DATABASE_URI": database_url, **overrides}
        application = create_app("testing", settings)
        application.before_request_funcs.setdefault(None, []).insert(0, _forget_user)
        _site_keeps_app_timezone(application, database_url)
        apps.append(application)
        return application

    yield factory
    for application in apps:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    application = make_app()
    with application.app_context():
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    from app.auth.services import create_user

    numbers = itertools.count(1)

    def factory(username: str | None = None, role: str = "staff", password: str = PASSWORD,
                **fields):
        user = create_user(username or f"{role}{next(numbers)}", role, password,
                           fields.pop("display_name", ""))
        for name, value in fields.items():
            setattr(user, name, value)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def login_as(client):
    """Log the test client in as `user` through the real login form."""

    def do_login(user, password: str = PASSWORD, test_client=None):
        response = log_in(test_client or client, user.username, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user

    return do_login


@pytest.fixture
def staff(make_user):
    return make_user("stella", "staff")


@pytest.fixture
def supervisor(make_user):
    return make_user("sam", "supervisor")


@pytest.fixture
def admin(make_user):
    return make_user("ada", "admin")


@pytest.fixture
def boss(client, login_as, supervisor):
    """The test client logged in as a supervisor (imports, corrections)."""
    login_as(supervisor)
    return supervisor


@pytest.fixture
def empty_postgres_url():
    """A fresh, empty PostgreSQL database beside the test database (dropped afterwards)."""
    import psycopg

    server = make_url(normalise_database_url(TEST_DATABASE_URL))
    name = f"{server.database}_mig"
    conninfo = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
