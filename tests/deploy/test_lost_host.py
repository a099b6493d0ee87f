"""Issue 24, part 2: one of two hosts is lost (SIGKILL to its gunicorn master and every
worker, as a machine that dies) while scanners send through nginx. Every scan the server
acknowledged is in the database exactly once; the station's resending carries the scans that
were in flight; the invariants hold; only in-flight requests may fail."""

from __future__ import annotations

import pytest

from tests.deploy.support import ScanLoad, check_scans_in_database, say
from tests.helpers import PASSWORD, pg_only

pytestmark = [pg_only, pytest.mark.deploy]
SCANNERS = 4


def test_losing_a_host_under_scanning_load_loses_no_acknowledged_scan(cluster, make_user):
    users = [make_user(f"scanner{number}") for number in range(SCANNERS)]
    host_a = cluster.host("a")
    host_b = cluster.host("b")
    proxy = cluster.nginx([host_a, host_b])

    load = ScanLoad(proxy.base, [(user.username, PASSWORD) for user in users]).start()
    try:
        load.wait_for(40, seconds=90)
        killed = host_a.kill()
        acknowledged_at_kill = load.acknowledged()
        load.wait_for(acknowledged_at_kill + 60, seconds=120)   # host b alone carries on
    finally:
        load.stop()

    counts = check_scans_in_database(cluster.database_url, load.acks)
    moved = sum(1 for entry in proxy.access_log() if ", " in entry["upstream"])
    say(f"lost host: killed {killed} processes of host a after {acknowledged_at_kill} scans; "
        f"scans acknowledged {counts['acknowledged']}, found once {counts['found_once']}, "
        f"failed {load.failed_scans} scans ({load.failed_requests} requests, resent by the "
        f"station), moved to host b by nginx {moved} requests")
    assert not load.refusals, load.refusals[:3]
    assert not load.unacknowledged, load.unacknowledged
    assert counts["found_once"] == counts["acknowledged"] >= acknowledged_at_kill + 60
    assert not counts["missing"] and not counts["twice"] and not counts["not_linked"]
    assert counts["broken_invariants"] == {}
    # Only what was in flight when the host died can fail: one request per scanner at most.
    assert load.failed_scans <= SCANNERS
