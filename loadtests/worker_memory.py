"""Resident memory of a production host's gunicorn processes (docs/DEPLOYMENT.md, "Worker
memory budget"): one host as run_production.sh runs it (4 gthread workers x 2 threads,
preload, the seed's pools), measured after start and after a scanning load and page views.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1/tt_mem .venv/bin/python loadtests/worker_memory.py

The database must be migrated (flask --app main db upgrade); two supervisors are created
when missing. Uses Redis DB 7 and ports from DEPLOY_TEST_PORT_BASE (8120) like tests/deploy."""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from app import create_app  # noqa: E402
from app.config import normalise_database_url  # noqa: E402
from app.extensions import db  # noqa: E402
from tests.deploy.support import Client, Cluster, ScanLoad, flush_redis  # noqa: E402

PASSWORD = "a long measuring passphrase"


def mib(process: psutil.Process) -> int:
    return process.memory_info().rss >> 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--scans", type=int, default=600)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set --database-url or TEST_DATABASE_URL (PostgreSQL)")
    url = normalise_database_url(args.database_url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from app.auth.services import create_user, find_user

        for number in range(2):
            if not find_user(f"meas{number}"):
                create_user(f"meas{number}", "supervisor", PASSWORD)
        db.session.commit()
    flush_redis()
    cluster = Cluster(url, Path(tempfile.mkdtemp(prefix="tracetrack-memory-")))
    try:
        host = cluster.host("m", GUNICORN_WORKERS="4", DB_POOL_SIZE="30", DB_MAX_OVERFLOW="20")
        idle = [mib(worker) for worker in host.workers()]
        load = ScanLoad(host.base, [("meas0", PASSWORD), ("meas1", PASSWORD)], pause=0,
                        parent_offset=random.randrange(100, 900) * 100,
                        tag=f"{random.randrange(36 ** 4):04X}").start()
        load.wait_for(args.scans, 300)
        load.stop()
        client = Client()
        client.login(host.base, "meas0", PASSWORD)
        for path in ("/dashboard", "/bags", "/jobs", "/scan"):
            for _ in range(5):
                client.page(host.base + path)
        busy = [mib(worker) for worker in host.workers()]
        master = mib(psutil.Process(host.master_pid()))
    finally:
        cluster.stop()
    print(f"master {master} MiB; workers after start {idle} MiB; after {load.acknowledged()} "
          f"scans and 20 page views {busy} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
