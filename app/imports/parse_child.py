"""The parse process: reads one uploaded file under hard limits and streams what it finds
back to the process that started it (app/imports/parse_process.py, ParseProcess).

Uploaded files are untrusted (a supplier makes them, no account needed), and a workbook's
parts make the XML parser build objects far larger than the file (issue 17, findings 1 and
2). So no gunicorn worker parses one: the worker starts this module as a new Python process
(`python -m app.imports.parse_child`: a fresh interpreter, nothing inherited from the
threaded, preloaded worker but the file's descriptor), which first limits itself:

- RLIMIT_AS, its address space (IMPORT_PARSE_MEMORY_MB, default 256): a bigger allocation
  fails with MemoryError here, and the worker's memory does not move;
- RLIMIT_CPU, its processor time (IMPORT_PARSE_SECONDS): past it the kernel ends it
  (SIGXCPU). Time spent waiting for the worker to take the next rows does not count;
- no core files.

Protocol, one JSON object a line on stdout: {"header": {...}, "total": n} once the header
row is found; then (mode "units") {"unit": [[row, kind, code, parent, parent_row, error,
scan], ...]} for each unit; {"end": true} at the end. A refused file sends {"refused":
[code, message]} instead, and ends. JSON, not pickle: the worker never runs what this
process sends.
"""

from __future__ import annotations

import json
import os
import resource
import sys

MEMORY_MESSAGE = (
    "The file needs more memory to read than an import may use ({mb} MiB): something in it "
    "is far larger than a supplier's sheet. Check that this is the right file; copy the "
    "label columns into a new workbook, save it as Excel Workbook (.xlsx) or CSV, and "
    "upload that.")


def _limit(memory_mb: int, seconds: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> int:
    request = json.loads(sys.argv[1])
    _limit(request["memory_mb"], request["seconds"])
    out = sys.stdout.buffer

    def send(message: dict) -> None:
        out.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        out.flush()

    from app.imports import parsing, units

    try:
        with os.fdopen(request["fd"], "rb", closefd=False) as source, \
                parsing.open_rows(source, request["file_type"], request["encoding"]) as rows:
            header = parsing.find_header(rows.rows)
            send({"header": {"layout": header.layout, "row": header.row,
                             "columns": header.columns}, "total": rows.total})
            if request["mode"] == "units":
                for unit in units.units(rows.rows, header, request["parent_pattern"]):
                    send({"unit": [[op.row, op.kind, op.code, op.parent, op.parent_row,
                                    op.error, op.scan] for op in unit.ops]})
        send({"end": True})
    except parsing.FileRefused as refused:
        send({"refused": [refused.code, refused.message]})
    except MemoryError:
        send({"refused": ["file_too_large",
                          MEMORY_MESSAGE.format(mb=request["memory_mb"])]})
    except BrokenPipeError:  # the worker stopped reading (its job ended): nothing to say
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
