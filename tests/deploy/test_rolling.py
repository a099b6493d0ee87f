"""Issue 24, part 3: deploy/rolling.sh replaces a host's workers under scanning load, one
host after the other, and no scan fails: the USR2 upgrade (a new master with the code on
disk, then TERM to the old one, as gunicorn documents) and the HUP reload."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from tests.deploy.support import ScanLoad, check_scans_in_database, say
from tests.helpers import PASSWORD, pg_only

pytestmark = [pg_only, pytest.mark.deploy]
ROOT = Path(__file__).resolve().parents[2]
SCANNERS = 4


def _roll(host, *options: str) -> str:
    result = subprocess.run([str(ROOT / "deploy/rolling.sh"), str(host.pidfile), *options],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rolling_reload_of_both_hosts_under_load_fails_no_scan(cluster, make_user):
    users = [make_user(f"scanner{number}") for number in range(SCANNERS)]
    hosts = [cluster.host("a"), cluster.host("b")]
    for host in hosts:  # reap the old master once it exits, as systemd would
        threading.Thread(target=host.process.wait, daemon=True).start()
    proxy = cluster.nginx(hosts)

    load = ScanLoad(proxy.base, [(user.username, PASSWORD) for user in users]).start()
    replaced = []
    try:
        load.wait_for(30, seconds=90)
        for host in hosts:
            old_master = host.master_pid()
            old_workers = {worker.pid for worker in host.workers()}
            _roll(host)
            assert host.master_pid() != old_master
            assert not old_workers & {worker.pid for worker in host.workers()}
            replaced.append(f"{host.name}: master {old_master} -> {host.master_pid()}")
            load.wait_for(load.acknowledged() + 20, seconds=90)
        workers_before = {worker.pid for worker in hosts[0].workers()}
        _roll(hosts[0], "--hup")
        assert not workers_before & {worker.pid for worker in hosts[0].workers()}
        load.wait_for(load.acknowledged() + 20, seconds=90)
    finally:
        load.stop()

    counts = check_scans_in_database(cluster.database_url, load.acks)
    moved = sum(1 for entry in proxy.access_log() if ", " in entry["upstream"])
    say(f"rolling: {'; '.join(replaced)}; then HUP on a; scans acknowledged "
        f"{counts['acknowledged']}, found once {counts['found_once']}, failed "
        f"{load.failed_scans} ({load.failed_requests} requests), moved by nginx {moved}")
    assert not load.refusals, load.refusals[:3]
    assert load.failed_scans == 0 and load.failed_requests == 0
    assert counts["found_once"] == counts["acknowledged"]
    assert not counts["missing"] and not counts["twice"] and not counts["not_linked"]
    assert counts["broken_invariants"] == {}
