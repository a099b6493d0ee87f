"""File answers shared by the exports (bags, dispatches): a CSV streamed as it is read, and an
XLSX written into an anonymous temporary file that is sent and removed. Both stay out of every
cache (bag data is the company's)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import IO

from flask import Response, current_app, send_file, stream_with_context

from app.domain import N_
from app.errors import error_response
from app.extensions import db
from app.security import current_request_id

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_ROWS = 1_048_575  # the sheet's 1,048,576 rows less the header
NO_STORE = {"Cache-Control": "no-store"}
TOO_MANY_ROWS = N_("More rows than a sheet holds. Narrow the search or export CSV.")


class TooManyRows(Exception):
    """Raised by a sheet writer past XLSX_MAX_ROWS."""


def csv_download(chunks: Iterator[str], filename: str) -> Response:
    """Stream `chunks` as an attached CSV. The first chunk is made here, before any byte goes
    out: the query's first batch runs now, so a failure is a proper error answer (with its
    request id and headers), not a server's bare page after the status line has gone."""
    first = next(chunks)
    return Response(stream_with_context(_rest_of_stream(first, chunks)), mimetype="text/csv",
                    headers={**NO_STORE,
                             "Content-Disposition": f'attachment; filename="{filename}"'})


def _rest_of_stream(first: str, chunks: Iterator[str]):
    """The export after its first chunk. An error once the answer has started cannot become
    an error page any more: it is logged with the request id and the connection is cut
    (re-raised), so the download shows as failed rather than as a complete, shorter file."""
    yield first
    try:
        yield from chunks
    except Exception:
        db.session.rollback()
        current_app.logger.exception("export stopped mid-stream [%s]", current_request_id())
        raise


def xlsx_download(write: Callable[[IO[bytes]], None], filename: str,
                  too_many_rows: str = TOO_MANY_ROWS) -> Response:
    """Run `write(handle)` into a temporary file and send it as an attached XLSX; a 422
    `too_many_rows` (saying `too_many_rows`) when the rows do not fit in one sheet."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # removed when closed
    try:
        write(handle)
    except TooManyRows:
        handle.close()
        return error_response(422, "too_many_rows", too_many_rows)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    response = send_file(handle, mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=filename, max_age=0)
    response.headers.update(NO_STORE)
    return response
