"""Benchmark: an 80,000-row supplier sheet imported through the real job path on PostgreSQL.

    .venv/bin/python loadtests/bench_import.py \\
        --database-url postgresql://postgres@127.0.0.1/tt_bench_import

1. Creates the database when it is missing, drops and recreates its public schema, migrates
   it (Alembic) and creates a supervisor.
2. Writes the suppliers' sheet (XLSX as Excel writes it, with xlsxwriter: every text in the
   shared-strings table, a dimension): --rows rows (default 80,000) under the header
   "Sr. No." / "QR Code": batches of 30 numbered label rows ("LABEL NO.0000001 LOT
   NO.:STAR44GG...", each distinct) each closed by a parent row (SB00001...).
3. Runs it as production does: the supervisor logs in and uploads it (POST /imports); a job
   runner thread, as in every gunicorn worker, runs the dry run; the supervisor confirms
   (POST /imports/<id>/confirm); the runner runs the import. The job status comes from
   GET /api/v1/jobs/<id>, as the page polls it.
4. Checks the invariants of DESIGN.md section 3 in the database afterwards, the expected
   counts, the per-row report (one line per row), and runs the verify_bags job.
5. Prints the times (upload, dry run, import, total) and the process's peak memory before
   the upload and after the import (the same process runs the jobs), writes them as JSON
   to --output when given, and exits non-zero when the import took longer than --limit
   seconds (default 60: from the upload to the end of the import) or an invariant broke.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "benchmark password 4 imports"  # noqa: S105 - a throwaway benchmark database
CAPACITY = 30


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def supplier_sheet_rows(rows: int) -> Iterator[list]:
    """The suppliers' sheet, header first: `rows` data rows in batches of CAPACITY numbered
    labels, each closed by its parent's row; every label distinct, as on real labels."""
    yield ["Sr. No.", "QR Code"]
    written = label = parents = 0
    while written < rows:
        batch = min(CAPACITY, rows - written - 1)
        for _ in range(batch):
            label += 1
            yield [label, f"LABEL NO.{label:07d} LOT NO.:STAR44GG{label % 97:02d} "
                          f"WT.:25KG PKD:11/2026"]
        parents += 1
        yield [None, f"SB{parents:05d}"]
        written += batch + 1


def sheet_contents(rows: int) -> dict:
    children = sum(1 for row in supplier_sheet_rows(rows) if isinstance(row[0], int))
    parents = rows - children
    return {"rows": rows, "children": children, "parents": parents,
            "complete": children // CAPACITY}


def write_sheet(path: Path, rows: int) -> dict:
    """The suppliers' sheet as Excel writes it: every text in the shared-strings table
    (xl/sharedStrings.xml) and the sheet's <dimension>, which the reader uses for the row
    count (openpyxl would write inline strings instead). Returns what it holds."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Sheet1")
    for number, row in enumerate(supplier_sheet_rows(rows)):
        sheet.write_row(number, 0, row)
    workbook.close()
    return sheet_contents(rows)


def prepare_database(url: str) -> None:
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import OperationalError

    from app.config import normalise_database_url

    url = normalise_database_url(url)
    target = make_url(url)
    try:
        engine = create_engine(url)
        with engine.connect():
            pass
    except OperationalError:
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
        engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def wait_for(client, job_id: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").get_json()
        if job["status"] in ("succeeded", "failed"):
            return job
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} did not finish within {timeout:.0f} s: {job}")
        time.sleep(0.25)


def check_invariants(expected: dict, report_rows: int) -> list[str]:
    """DESIGN.md section 3, checked in SQL, plus what this sheet must have produced."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from app.extensions import db
    from app.scanning.invariants import broken_invariants

    def scalar(sql: str) -> int:
        return db.session.execute(text(sql)).scalar_one()

    problems = [f"{name}: {rows} violations"
                for name, rows in broken_invariants(db.session).items()]
    twice = scalar("SELECT count(*) FROM (SELECT bag_id FROM scan_events WHERE action = "
                   "'child_scan' AND result = 'linked' GROUP BY bag_id HAVING count(*) > 1) AS t")
    if twice:  # this sheet has no undo: a child linked twice means it was imported twice
        problems.append(f"children linked twice in the history: {twice} violations")
    db.session.commit()
    for statement in ("DELETE FROM scan_events WHERE id = (SELECT min(id) FROM scan_events)",
                      "UPDATE scan_events SET result = 'x' WHERE id = (SELECT min(id) FROM scan_events)"):
        try:
            db.session.execute(text(statement))
            problems.append(f"4. scan_events are append-only, but this worked: {statement}")
        except DBAPIError:
            pass
        db.session.rollback()

    counts = {
        "parents": scalar("SELECT count(*) FROM bags WHERE kind = 'parent'"),
        "children": scalar("SELECT count(*) FROM bags WHERE kind = 'child' AND status = 'linked'"),
        "complete": scalar("SELECT count(*) FROM bags WHERE kind = 'parent' AND status = 'complete'"),
        "linked_events": scalar("SELECT count(*) FROM scan_events WHERE action = 'child_scan' "
                                "AND result = 'linked' AND outcome = 'accepted'"),
        "complete_events": scalar("SELECT count(*) FROM scan_events WHERE action = 'complete'"),
        "parent_events": scalar("SELECT count(*) FROM scan_events WHERE result = 'parent_created'"),
        "rejected_events": scalar("SELECT count(*) FROM scan_events WHERE outcome = 'rejected'"),
    }
    db.session.commit()
    wanted = {"parents": expected["parents"], "children": expected["children"],
              "complete": expected["complete"], "linked_events": expected["children"],
              "complete_events": expected["complete"], "parent_events": expected["parents"],
              "rejected_events": 0}
    for key, value in wanted.items():
        if counts[key] != value:
            problems.append(f"expected {value} {key}, found {counts[key]}")
    if report_rows != expected["rows"]:
        problems.append(f"the report has {report_rows} rows, the sheet {expected['rows']}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1/tt_bench_import")
    parser.add_argument("--rows", type=int, default=80_000)
    parser.add_argument("--limit", type=float, default=60.0, help="seconds allowed")
    parser.add_argument("--output", help="write the figures as JSON here")
    args = parser.parse_args()

    prepare_database(args.database_url)
    from flask_migrate import upgrade

    import async_handler
    from app import create_app
    from app.auth.services import create_user
    from app.config import normalise_database_url
    from app.extensions import db

    app = create_app("testing", {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(args.database_url),
        "REQUEST_LOG": False, "JOB_POLL_SECONDS": 1})
    with app.app_context():
        upgrade()
        create_user("bench-boss", "supervisor", PASSWORD)
        db.session.commit()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "supplier-batches.xlsx"
        started = time.perf_counter()
        # In a child process: the in-memory workbook must not count in this process's peak.
        with multiprocessing.get_context("fork").Pool(1) as pool:
            expected = pool.apply(write_sheet, (path, args.rows))
        content = path.read_bytes()
    print(f"sheet: {expected['rows']:,} rows ({expected['parents']:,} parents, "
          f"{expected['children']:,} labels), {len(content) / 2**20:.1f} MiB, "
          f"written in {time.perf_counter() - started:.1f} s")
    rss_before = peak_rss_mib()

    runner = async_handler.start_runner(app)  # one runner thread, as in a gunicorn worker
    try:
        with app.app_context():
            client = app.test_client()
            login = client.post("/login", data={"username": "bench-boss", "password": PASSWORD})
            assert login.status_code == 302, login.status_code

            t0 = time.perf_counter()
            upload = client.post("/imports", content_type="multipart/form-data",
                                 data={"file": (io.BytesIO(content), "supplier-batches.xlsx")})
            assert upload.status_code == 302, upload.get_data(as_text=True)[:500]
            import_id = int(upload.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
            from app.models.imports import Import

            record = db.session.get(Import, import_id)
            check_job_id = record.check_job_id
            db.session.commit()
            t1 = time.perf_counter()
            check = wait_for(client, check_job_id, 300)
            t2 = time.perf_counter()
            if check["status"] != "succeeded":
                raise SystemExit(f"the dry run failed: {check['error']}")
            confirm = client.post(f"/imports/{import_id}/confirm")
            assert confirm.status_code == 302
            db.session.expire_all()
            import_job_id = db.session.get(Import, import_id).import_job_id
            db.session.commit()
            t3 = time.perf_counter()
            result = wait_for(client, import_job_id, 300)
            t4 = time.perf_counter()
            if result["status"] != "succeeded":
                raise SystemExit(f"the import failed: {result['error']}")
            rss_jobs = peak_rss_mib()  # before this script reads the report into memory

            report = client.get(f"/imports/{import_id}/import.csv").get_data(as_text=True)
            report_rows = sum(1 for _ in csv.reader(io.StringIO(report))) - 1
            problems = check_invariants(expected, report_rows)
            verify = client.post("/jobs/verify-bags")
            verify_id = int(verify.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
            verified = wait_for(client, verify_id, 120)
            if verified["status"] != "succeeded" or verified["result"]["mismatch_count"]:
                problems.append(f"verify_bags: {verified}")
    finally:
        async_handler.stop_runner()
        with app.app_context():
            db.engine.dispose()
    del runner

    figures = {
        "rows": expected["rows"], "file_mib": round(len(content) / 2**20, 2),
        "upload_s": round(t1 - t0, 2), "dry_run_s": round(t2 - t1, 2),
        "import_s": round(t4 - t3, 2), "total_s": round(t4 - t0, 2),
        "rows_per_s_import": round(expected["rows"] / (t4 - t3)),
        "peak_rss_mib_before_upload": round(rss_before),
        "peak_rss_mib_after_import": round(rss_jobs),
        "counts": result["result"]["counts"], "problems": problems,
    }
    print(json.dumps(figures, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(figures, indent=2))
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    if figures["total_s"] > args.limit:
        print(f"FAIL: upload, dry run and import took {figures['total_s']} s, over the "
              f"{args.limit:.0f} s limit")
        return 1
    print(f"OK: {expected['rows']:,} rows uploaded, checked and imported in "
          f"{figures['total_s']} s (limit {args.limit:.0f} s); invariants hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
