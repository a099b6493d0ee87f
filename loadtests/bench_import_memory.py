"""Peak memory of reading supplier sheets of growing length, as an import job reads them.

    .venv/bin/python loadtests/bench_import_memory.py [--rows 20000 80000 160000]
        [--compare] [--jobs [--database-url postgresql://postgres@127.0.0.1/tt_bench_import]]
        [--tracemalloc] [--output figures.json]

For each row count it writes the suppliers' sheet twice, as XLSX the way Excel writes it
(every label in the shared-strings table: loadtests/bench_import.py write_sheet) and as CSV,
then reads each file in a fresh Python process exactly as the dry run and the import do
(app.imports.parsing: open_rows, find_header, units), with no database. The process reports
its peak RSS (resource.getrusage ru_maxrss) before the file is opened, once the modules are
imported, and after the last row; the difference is what reading the file cost. With
--compare the XLSX is read a second time the way the reader worked before issue 8 was
finished (openpyxl's load_workbook(read_only=True) and iter_rows), for the contrast.
With --jobs each file is also uploaded (store_upload) into PostgreSQL by one process (the
database's public schema is dropped and migrated again first, as loadtests/bench_import.py
does), and another process runs its whole dry-run job as a worker's runner does
(JobRunner.run_once: the file copied out of the database, every row read and decided against
the database, the scratch SQLite memory of codes, the report parts), reporting its peak RSS
from before the job to its end and the peak of SQLite's own allocations (the scratch files'
page caches). --tracemalloc adds the peak of Python allocations while reading (slower: every
allocation is traced). Prints a table; memory must not grow with the row count beyond noise.

The parent process imports neither the app nor openpyxl, so that its own size cannot show in
the children's peak (Linux carries ru_maxrss across exec).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READERS = {"tracetrack": "the import's reader (app/imports/parsing.py)",
           "dry-run-job": "the whole dry-run job, on PostgreSQL",
           "openpyxl-list": "openpyxl load_workbook(read_only=True), iter_rows: the reader "
                            "before (shared strings in a list)"}
PASSWORD = "benchmark password 4 imports"  # noqa: S105 - a throwaway scratch database


def write_files(folder: Path, rows: int) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "loadtests"))
    from bench_import import supplier_sheet_rows, write_sheet

    xlsx_path, csv_path = folder / f"supplier-{rows}.xlsx", folder / f"supplier-{rows}.csv"
    write_sheet(xlsx_path, rows)
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(supplier_sheet_rows(rows))
    return {"xlsx": xlsx_path, "csv": csv_path}


# --- the child: read one file and report -----------------------------------------------------

def measure(path: Path, file_type: str, reader: str, trace: bool) -> dict:
    import gc
    import resource
    import tracemalloc
    from contextlib import contextmanager

    sys.path.insert(0, str(ROOT))
    from app.imports import parsing, xlsx_reader  # noqa: F401 - imported before the baseline
    from app.imports import units as import_units

    @contextmanager
    def openpyxl_list_rows(handle):
        """The reader before: openpyxl's own read-only iteration."""
        from openpyxl import load_workbook

        workbook = load_workbook(handle, read_only=True, data_only=False)
        try:
            sheet = workbook.worksheets[0]
            rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            yield parsing.RowSource(parsing._checked(rows), sheet.max_row)
        finally:
            workbook.close()

    def peak_mib() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    encoding = "utf-8-sig" if file_type == "csv" else None
    gc.collect()
    before = peak_mib()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    rows = units = 0
    with open(path, "rb") as handle:
        opened = (openpyxl_list_rows(handle) if reader == "openpyxl-list"
                  else parsing.open_rows(handle, file_type, encoding))
        with opened as source:
            header = parsing.find_header(source.rows)
            for unit in import_units.units(source.rows, header, r"^(SB\d{5}|M444-\d{5})$"):
                units += 1
                rows = unit.last_row
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    return {"rows_read": rows, "units": units, "seconds": round(seconds, 2),
            "rss_before_mib": round(before, 1), "rss_peak_mib": round(peak_mib(), 1),
            "rss_growth_mib": round(peak_mib() - before, 1),
            "tracemalloc_peak_mib": round(traced, 2) if traced is not None else None}


def job_app(database_url: str):
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from app.config import normalise_database_url

    return create_app("testing", {"SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
                                  "REQUEST_LOG": False})


def store(path: Path, database_url: str) -> int:
    """Rebuild the database's schema and upload the file into it, as POST /imports does;
    the id of the import, whose dry run is queued."""
    sys.path.insert(0, str(ROOT / "loadtests"))
    from bench_import import prepare_database
    from flask_migrate import upgrade

    prepare_database(database_url)
    app = job_app(database_url)
    with app.app_context():
        from app.auth.services import create_user
        from app.extensions import db
        from app.imports.upload import store_upload

        upgrade()
        user = create_user("bench-boss", "supervisor", PASSWORD)
        record = store_upload(user, path.name, path.read_bytes())
        db.session.commit()
        record_id = record.id
        db.engine.dispose()
        return record_id


def sqlite_peak_mib() -> float | None:
    """The peak of SQLite's own allocations in this process (page caches, statements)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    library = ctypes.CDLL(name)
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    return round(library.sqlite3_memory_highwater(0) / 2**20, 1)


def measure_job(database_url: str, import_id: int) -> dict:
    """Run the queued dry run in this fresh process; its peak RSS from before to after."""
    import gc
    import resource

    app = job_app(database_url)  # puts the project on sys.path
    import async_handler

    with app.app_context():
        from app.extensions import db
        from app.models import Import, Job

        from app.imports import xlsx_reader  # noqa: F401 - imported before the baseline

        db.session.get(Import, import_id)  # the engine, the models, the first query
        db.session.commit()
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    async_handler.JobRunner(app).run_once()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with app.app_context():
        record = db.session.get(Import, import_id)
        check = db.session.get(Job, record.check_job_id)
        if check.status != "succeeded":
            raise SystemExit(f"the dry run failed: {check.error}")
        rows = record.check_result["counts"]["rows"]
        db.engine.dispose()
    return {"rows_read": rows, "units": None, "seconds": round(seconds, 2),
            "rss_before_mib": round(before, 1), "rss_peak_mib": round(peak, 1),
            "rss_growth_mib": round(peak - before, 1), "tracemalloc_peak_mib": None,
            "sqlite_peak_mib": sqlite_peak_mib()}


# --- the parent ------------------------------------------------------------------------------

def python(*args: str) -> dict:
    """This script's --child mode in a fresh process; what it printed as JSON."""
    done = subprocess.run([sys.executable, __file__, *args],  # noqa: S603
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_child(path: Path, file_type: str, reader: str, trace: bool,
              database_url: str) -> dict:
    if reader == "dry-run-job":
        import_id = python("--child", "store", str(path), database_url)["import_id"]
        return python("--child", "job", database_url, str(import_id))
    return python("--child", "read", str(path), file_type, reader,
                  *(["--tracemalloc"] if trace else []))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 80_000, 160_000])
    parser.add_argument("--compare", action="store_true",
                        help="also read each XLSX as openpyxl's read-only mode alone does")
    parser.add_argument("--jobs", action="store_true",
                        help="also run each file's whole dry-run job (PostgreSQL)")
    parser.add_argument("--database-url",
                        default="postgresql://postgres@127.0.0.1/tt_bench_import",
                        help="for --jobs: created when missing; its schema is rebuilt")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--output", help="write the figures as JSON here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, *rest = args.child
        if what == "read":
            figures = measure(Path(rest[0]), rest[1], rest[2], args.tracemalloc)
        elif what == "store":
            figures = {"import_id": store(Path(rest[0]), rest[1])}
        else:
            figures = measure_job(rest[0], int(rest[1]))
        print(json.dumps(figures))
        return 0

    results = []
    with tempfile.TemporaryDirectory(prefix="tracetrack-bench-memory-") as folder:
        for rows in args.rows:
            # Written by a child process too: xlsxwriter holds the sheet in memory.
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-c", "import sys, json; sys.path.insert(0, sys.argv[1]); "
                 "from bench_import_memory import write_files; from pathlib import Path; "
                 "print(json.dumps({k: str(v) for k, v in "
                 "write_files(Path(sys.argv[2]), int(sys.argv[3])).items()}))",
                 str(ROOT / "loadtests"), folder, str(rows)],
                capture_output=True, text=True, check=True)
            files = {kind: Path(name) for kind, name in json.loads(done.stdout).items()}
            runs = [("xlsx", "tracetrack"), ("csv", "tracetrack")]
            if args.jobs:
                runs += [("xlsx", "dry-run-job"), ("csv", "dry-run-job")]
            if args.compare:
                runs.append(("xlsx", "openpyxl-list"))
            for file_type, reader in runs:
                figures = run_child(files[file_type], file_type, reader, args.tracemalloc,
                                    args.database_url)
                figures.update(rows=rows, file=file_type, reader=reader,
                               file_mib=round(files[file_type].stat().st_size / 2**20, 2))
                results.append(figures)
                print(f"  {rows:>7,} rows {file_type:4} {reader:13}: "
                      f"+{figures['rss_growth_mib']} MiB in {figures['seconds']} s",
                      file=sys.stderr)

    columns = ["rows", "file", "reader", "file MiB", "seconds", "peak RSS before MiB",
               "peak RSS after MiB", "growth MiB"] + (
        ["of which SQLite MiB"] if args.jobs else []) + (
        ["tracemalloc peak MiB"] if args.tracemalloc else [])
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    order = list(READERS)
    for r in sorted(results, key=lambda r: (order.index(r["reader"]), r["file"], r["rows"])):
        cells = [f"{r['rows']:,}", r["file"], r["reader"], r["file_mib"], r["seconds"],
                 r["rss_before_mib"], r["rss_peak_mib"], r["rss_growth_mib"]] + (
            [r.get("sqlite_peak_mib") or ""] if args.jobs else []) + (
            [r["tracemalloc_peak_mib"]] if args.tracemalloc else [])
        print("| " + " | ".join(str(cell) for cell in cells) + " |")
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    for reader in READERS:
        for file_type in ("xlsx", "csv"):
            growth = [r["rss_growth_mib"] for r in results
                      if r["reader"] == reader and r["file"] == file_type]
            if len(growth) > 1:
                print(f"{file_type} via {READERS[reader]}: growth from the smallest to the "
                      f"largest file {growth[-1] - growth[0]:+.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
