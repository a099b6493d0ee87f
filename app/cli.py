"""flask --app main users create USERNAME --role ROLE | users ensure-admin | seed-demo |
seed-bags N | imports purge | jobs work | check-config | dispatch summary"""

from __future__ import annotations

import os
import random
import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app.auth.services import AccountError, create_user, find_user
from app.extensions import db
from app.models import ROLES, Bag, User

users_cli = AppGroup("users", help="Manage user accounts.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _create(username: str, role: str, password: str, display_name: str) -> User:
    """Create and commit a user, or stop with the refusal (weak password, name taken...)."""
    try:
        user = create_user(username, role, password, display_name)
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    return user


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--display-name", default="", help="Name shown in the app.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(username: str, role: str, display_name: str, password_stdin: bool):
    """Create a user; the password comes from --password-stdin or a prompt, never a default."""
    user = _create(username, role, _read_password(password_stdin), display_name)
    click.echo(f"Created {user.role} {user.username}.")


@users_cli.command("ensure-admin")
def ensure_admin_command():
    """Make sure an active admin exists: from ADMIN_USERNAME and ADMIN_PASSWORD, or by asking."""
    exists = db.session.scalar(
        select(User.id).where(User.role == "admin", User.is_active.is_(True)).limit(1))
    if exists is not None:
        click.echo("An active admin exists.")
        return
    username = os.environ.get("ADMIN_USERNAME", "").strip()
    password = os.environ.get("ADMIN_PASSWORD", "")
    if not (username and password):
        if not sys.stdin.isatty():
            raise click.ClickException(
                "No admin exists yet. Set ADMIN_USERNAME and ADMIN_PASSWORD, or run this in a "
                "terminal to be asked for them.")
        click.echo("No admin exists yet: create the first one.")
        username = username or click.prompt("Admin username", default="admin")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = _create(username, "admin", password, "Administrator")
    click.echo(f"Created admin {user.username}.")


@click.command("seed-demo")
@click.option("--user", "username", default=None,
              help="Who scans the demo bags (default: the staff, or three demo staff).")
@click.option("--parents", default=12, show_default=True, type=click.IntRange(1, 10000))
@click.option("--seed", default=7, show_default=True, help="Random seed, for a repeatable set.")
def seed_demo_command(username: str | None, parents: int, seed: int):
    """A small realistic data set: full, part-filled and empty parents, and a few refused
    scans, all written through the scan service so that the history is real."""
    from app.scanning.services import ScanError, scan_child, scan_parent
    from app.scanning.transaction import run_scan

    user = find_user(username) if username else db.session.scalar(
        select(User).where(User.role == "admin", User.is_active.is_(True)).limit(1))
    if user is None:
        raise click.ClickException("No such user. Create one first with `users create`.")
    scanners = [user] if username else _demo_staff()
    rng = random.Random(seed)
    existing = set(db.session.scalars(select(Bag.code)))
    parent_codes = [code for code in (f"SB{n:05d}" for n in range(1, 100_000))
                    if code not in existing][:parents]
    child_codes = (code for code in (f"{n:07d}" for n in range(16_000, 10_000_000))
                   if code not in existing)
    linked, open_parents, full_children, refused = 0, [], [], 0
    for number, parent_code in enumerate(parent_codes):
        user = rng.choice(scanners)  # each parent filled by one person, as on the floor
        parent = run_scan(scan_parent, user, parent_code).parent
        fill = rng.choice([parent.capacity, parent.capacity, rng.randint(1, parent.capacity - 1), 0])
        if number == len(parent_codes) - 1 and not open_parents:
            fill = parent.capacity // 2  # always leave one parent being filled
        for _ in range(fill):
            outcome = run_scan(scan_child, user, parent_code, next(child_codes))
            linked += 1
            full_children.append(outcome.child.code)
        if fill < parent.capacity:
            open_parents.append(parent_code)
    mistakes = ["HELLO!", "SB1"] + rng.sample(full_children, k=min(3, len(full_children)))
    for code in mistakes if open_parents else []:
        try:  # bad labels and bags already in another parent, as a real shift has them
            run_scan(scan_child, rng.choice(scanners), open_parents[0], code)
        except ScanError:
            refused += 1
    names = ", ".join(scanner.username for scanner in scanners)
    click.echo(f"Seeded {len(parent_codes)} parents with {linked} children, scanned by {names}; "
               f"{refused} refused scans recorded.")


DEMO_STAFF = (("demo-anna", "Anna (demo)"), ("demo-ben", "Ben (demo)"), ("demo-chen", "Chen (demo)"))


def _demo_staff() -> list[User]:
    """The active staff, or three demo staff made for the purpose. Their passwords are
    random and never shown: an admin resets one to let somebody log in as them."""
    import secrets

    staff = list(db.session.scalars(
        select(User).where(User.role == "staff", User.is_active.is_(True)).order_by(User.id)))
    if staff:
        return staff
    made = [find_user(name) or create_user(name, "staff", secrets.token_urlsafe(24), display)
            for name, display in DEMO_STAFF]
    db.session.commit()
    return made


@click.command("check-config")
@click.option("--strict", is_flag=True,
              help="Exit 1 when a PostgreSQL setting the app relies on is off or too small.")
@with_appcontext
def check_config_command(strict: bool):
    """Print the effective configuration (secrets masked) and check the connection budget."""
    from flask import current_app

    from app.runtime import check_connection_budget

    config = current_app.config
    url = db.engine.url.render_as_string(hide_password=True)
    click.echo(f"environment: {config['ENV_NAME']}")
    click.echo(f"database: {url}")
    click.echo(f"rate-limit storage: {config['RATELIMIT_STORAGE_URI']}")
    click.echo(f"secure cookies: {config['SESSION_COOKIE_SECURE']}")
    workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
    report = check_connection_budget(current_app, workers)
    if report:
        click.echo(f"connections: {report['workers']} workers x {report['per_worker']} = "
                   f"{report['total']} of {report['usable']} usable")
    _check_database_settings(strict)


def _check_database_settings(strict: bool) -> None:
    """The live server's settings against what every host needs (APP_HOSTS hosts). Reported;
    a failure only with --strict (a shared trial server may run without autovacuum)."""
    from flask import current_app

    from app.runtime import database_settings_report

    hosts = int(os.environ.get("APP_HOSTS", "1"))
    workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
    report = database_settings_report(current_app, hosts, workers)
    if report is None:
        return
    click.echo(f"postgresql: autovacuum {report['autovacuum']}, {report['hosts']} hosts x "
               f"{report['workers']} workers x {report['per_worker']} = {report['needed']} of "
               f"{report['usable']} usable connections")
    for problem in report["problems"]:
        click.echo(f"WARNING: {problem}", err=True)
    if strict and report["problems"]:
        raise SystemExit(1)


@click.command("check-invariants")
@with_appcontext
def check_invariants_command():
    """Check the bag invariants (DESIGN section 3) and the schema version, e.g. after a
    restore (deploy/restore.sh). Exits 1 when one does not hold."""
    from sqlalchemy import text

    from app.scanning.invariants import INVARIANT_CHECKS, broken_invariants

    version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    click.echo(f"schema version: {version}")
    for table in ("users", "bags", "scan_events"):
        rows = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608
        click.echo(f"{table}: {rows} rows")
    broken = broken_invariants(db.session)
    for name in INVARIANT_CHECKS:
        click.echo(f"{'BROKEN' if name in broken else 'ok'}: {name}"
                   + (f" ({broken[name]} rows)" if name in broken else ""))
    db.session.rollback()
    if broken:
        raise SystemExit(1)
    click.echo("invariants: all hold")


jobs_cli = AppGroup("jobs", help="Background jobs.")


@jobs_cli.command("work")
@click.option("--once", is_flag=True, help="Run at most one job, then stop.")
def jobs_work_command(once: bool):
    """Run a job runner in this process (instead of, or besides, the gunicorn workers')."""
    import time

    from flask import current_app

    from app.jobs.runner import JobRunner

    runner = JobRunner(current_app._get_current_object(), threads=1)
    if once:
        click.echo("ran a job" if runner.run_once() else "no job waiting")
        return
    runner.start()
    click.echo(f"job runner {runner.identity} started; Ctrl+C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        runner.stop()


imports_cli = AppGroup("imports", help="Bulk imports.")


@imports_cli.command("purge")
@click.option("--hours", type=click.IntRange(min=1), default=None,
              help="Remove files never imported that are older than this "
                   "(default IMPORT_UPLOAD_RETENTION_HOURS).")
def imports_purge_command(hours: int | None):
    """Remove the stored files that no import will read again: imported ones, and ones never
    imported that are older than the retention. Files whose dry run or import is queued or
    running stay. The job runners do this every few minutes by themselves."""
    from datetime import timedelta

    from app.imports.upload import purge_uploads

    result = purge_uploads(keep=timedelta(hours=hours) if hours else None)
    click.echo(f"Removed the files of {result.uploads} upload"
               f"{'' if result.uploads == 1 else 's'} ({result.bytes / 2**20:.1f} MiB).")
    if result.busy:
        click.echo(f"{result.busy} uploads were being confirmed and were left for the next "
                   "purge.")


@click.command("seed-bags")
@click.argument("count", type=click.IntRange(1, 6_000_000))
@click.option("--capacity", type=click.IntRange(1, 1000), default=None,
              help="Children per parent (default: DEFAULT_PARENT_CAPACITY).")
@click.option("--days", type=click.FloatRange(0.01, 3650), default=90, show_default=True,
              help="Spread the creation times over the last DAYS days.")
@click.option("--seed", "random_seed", default=1, show_default=True,
              help="Random seed, for a repeatable set.")
def seed_bags_command(count: int, capacity: int | None, days: float, random_seed: int):
    """Seed COUNT bags (parents with children) and their scan events, quickly."""
    from flask import current_app

    from app.lookup.seed import SeedError, analyse, seed_bags

    user_ids = list(db.session.scalars(
        select(User.id).where(User.is_active.is_(True)).order_by(User.id)))
    if not user_ids:
        raise SeedError("No active user exists to have scanned them. "
                        "Create one first with `flask --app main users create`.")
    capacity = capacity or current_app.config["DEFAULT_PARENT_CAPACITY"]
    try:
        report = seed_bags(count, capacity=capacity, user_ids=user_ids, days=days,
                           rng=random.Random(random_seed),
                           progress=lambda n: click.echo(f"  {n:,} / {count:,} bags", err=True))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    analyse()
    click.echo(f"Seeded {count:,} bags: {report.parents:,} parents, {report.linked:,} linked "
               f"and {report.loose:,} loose children, {report.events:,} scan events, in "
               f"{report.seconds:.1f} s. Child counts checked.")


dispatch_cli = AppGroup("dispatch", help="Dispatches (bills of lading).")


@dispatch_cli.command("summary")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day (YYYY-MM-DD, in APP_TIMEZONE); default today.")
@click.option("--show", is_flag=True, help="Print the message instead of sending it.")
def dispatch_summary_command(day, show: bool):
    """Send the day's dispatch summary now (or show it). Independent of the daily send at
    DISPATCH_SUMMARY_AT: that one still goes at its time."""
    from app.dispatch_docs import summary as summaries
    from app.mail import MailError

    wanted = day.date() if day else summaries.local_today()
    summary, message = summaries.summary_for(wanted)
    why = summaries.not_sent_because()
    if show or why:
        click.echo(message.get_body(("plain",)).get_content())
        if why and not show:
            click.echo(f"Not sent: {why}.", err=True)
        return
    try:
        summaries.deliver(summary, message)
    except MailError as exc:
        raise click.ClickException(f"The summary was not sent: {exc}") from None
    click.echo(f"Sent the summary of {wanted.isoformat()} to {message['To']}.")


def init_cli(app: Flask) -> None:
    app.cli.add_command(imports_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(dispatch_cli)
    app.cli.add_command(check_config_command)
    app.cli.add_command(check_invariants_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(seed_bags_command)
