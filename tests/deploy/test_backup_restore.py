"""Issue 24, part 4: deploy/backup.sh while scanners scan, deploy/restore.sh into a fresh
database, and the restored copy holds: invariants checked (by the script's
check-invariants), and every scan acknowledged before the backup began is there."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from app.config import normalise_database_url
from tests.deploy.support import ScanLoad, check_scans_in_database, plain_url, say
from tests.helpers import PASSWORD, pg_only

pytestmark = [pg_only, pytest.mark.deploy]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_database(database_url):
    """An empty database beside the test's, dropped afterwards."""
    url = make_url(normalise_database_url(database_url))
    name = f"{url.database}_restore"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield plain_url(url.set(database=name).render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_backup_taken_under_scanning_load_restores_with_every_acknowledged_scan(
        cluster, make_user, fresh_database, tmp_path):
    users = [make_user(f"scanner{number}") for number in range(3)]
    host = cluster.host("a")
    backups = tmp_path / "backups"
    backups.mkdir()
    expired = backups / "tracetrack-20000101T000000Z.dump"   # older than BACKUP_KEEP_DAYS
    expired.write_bytes(b"old")
    old = time.time() - 30 * 86400
    os.utime(expired, (old, old))
    env = {**os.environ, "DATABASE_URL": plain_url(cluster.database_url),
           "BACKUP_KEEP_DAYS": "14", "INSTANCE_DIR": str(tmp_path / "instance")}
    env.pop("TEST_DATABASE_URL", None)

    load = ScanLoad(host.base, [(user.username, PASSWORD) for user in users]).start()
    try:
        load.wait_for(40, seconds=90)
        with load.lock:
            before_backup = list(load.acks)
        backup = subprocess.run([str(ROOT / "deploy/backup.sh"), str(backups)], env=env,
                                capture_output=True, text=True, timeout=180)
        load.wait_for(len(before_backup) + 20, seconds=90)   # still scanning after it
    finally:
        load.stop()
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip().splitlines()[-1])
    assert dump.exists() and dump.name.startswith("tracetrack-") and dump.suffix == ".dump"
    assert not expired.exists()
    assert not list(backups.glob("*.partial"))

    restore = subprocess.run([str(ROOT / "deploy/restore.sh"), str(dump), fresh_database],
                             env=env, capture_output=True, text=True, timeout=300)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "invariants: all hold" in restore.stdout
    counts = check_scans_in_database(fresh_database, before_backup)
    say(f"backup under load: {dump.stat().st_size} bytes; acknowledged before the backup began "
        f"{counts['acknowledged']}, found once in the restore {counts['found_once']}; "
        f"acknowledged in all {len(load.acks)}; failed {load.failed_scans}")
    assert counts["found_once"] == counts["acknowledged"] == len(before_backup)
    assert not counts["missing"] and not counts["twice"] and not counts["not_linked"]
    assert counts["broken_invariants"] == {}

    # Never over a database that has tables: the second restore is refused, nothing changes.
    again = subprocess.run([str(ROOT / "deploy/restore.sh"), str(dump), fresh_database],
                           env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already has" in again.stderr
