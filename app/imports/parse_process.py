"""Parsing an upload in a process of its own (issue 17): every read of an untrusted file (the
upload's header check, the dry run, the import) runs app/imports/parse_child.py under an
address-space and a processor-time limit and streams its units back, so a bomb fails its job
with a message instead of growing or killing a gunicorn worker."""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO


from app.imports.parsing import FileRefused, Header, detect_file_type
from app.imports.units import Op, Unit

log = logging.getLogger(__name__)


def inspect_upload(content: bytes) -> tuple[str, str | None, Header]:
    """At upload: the file's type, encoding and header, or FileRefused. The request checks
    the file's kind and, for a workbook, its archive (check_workbook_archive); the header
    is read in a parse process (ParseProcess), never in the worker."""
    file_type, encoding = detect_file_type(content)
    with tempfile.TemporaryFile(prefix="tracetrack-upload-") as handle:
        handle.write(content)
        handle.flush()
        with ParseProcess(handle, "header", file_type, encoding) as child:
            header = child.header
    return file_type, encoding, header


# --- the parse process ---------------------------------------------------------------------

DEFAULT_PARSE_MEMORY_MB = 256
DEFAULT_PARSE_SECONDS = 120
HEADER_SECONDS = 30                    # at most, for the upload request's header check
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # one unit of the parse process's answer, at most


@dataclass
class UnitSource:
    units: Iterator[Unit]
    total: int | None    # rows in the sheet, for the progress bar
    header: Header


@contextmanager
def open_units(source: IO[bytes], file_type: str, encoding: str | None,
               parent_pattern: str) -> Iterator[UnitSource]:
    """The file's header and units, read by a parse process under the import's limits:
    what open_rows + find_header + units give in this process, without parsing here.
    FileRefused when the file is refused, or goes over a limit, at any point."""
    with ParseProcess(source, "units", file_type, encoding, parent_pattern) as child:
        yield UnitSource(child.units(), child.total, child.header)


def parse_limits() -> tuple[int, int]:
    """(memory in MiB, seconds) of a parse process: IMPORT_PARSE_MEMORY_MB and
    IMPORT_PARSE_SECONDS of the app's config (the defaults outside an app)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return DEFAULT_PARSE_MEMORY_MB, DEFAULT_PARSE_SECONDS
    config = current_app.config
    return (config.get("IMPORT_PARSE_MEMORY_MB", DEFAULT_PARSE_MEMORY_MB),
            config.get("IMPORT_PARSE_SECONDS", DEFAULT_PARSE_SECONDS))


class ParseProcess:
    """One run of app/imports/parse_child.py over an open file (its descriptor is passed on;
    the file is read from its start). A new interpreter through subprocess (fork and exec,
    nothing else inherited): safe from a threaded gunicorn worker that was forked from a
    preloading master, where a multiprocessing 'fork' would copy the worker's locks.

    Entering reads up to the header (FileRefused if the file is refused before it); units()
    streams the rest. A silence of the seconds limit, a death by a signal (SIGXCPU at the
    processor-time limit) or an answer that breaks the protocol fail the file with a message
    a supervisor understands; leaving always ends the process."""

    def __init__(self, source: IO[bytes], mode: str, file_type: str, encoding: str | None,
                 parent_pattern: str | None = None):
        self.memory_mb, self.seconds = parse_limits()
        if mode == "header":  # the upload request waits for it: the top of the file only
            self.seconds = min(self.seconds, HEADER_SECONDS)
        self._source = source
        self._request = {"mode": mode, "file_type": file_type, "encoding": encoding,
                         "parent_pattern": parent_pattern, "memory_mb": self.memory_mb,
                         "seconds": self.seconds}
        self._process: subprocess.Popen | None = None
        self._ended = False
        self._buffer = b""
        self.header: Header | None = None
        self.total: int | None = None

    def __enter__(self) -> ParseProcess:
        self._source.seek(0)
        fd = self._source.fileno()
        self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "app.imports.parse_child",
             json.dumps({**self._request, "fd": fd})],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, pass_fds=(fd,),
            cwd=_PROJECT_ROOT, env=_child_environment())
        try:
            first = self._receive()
            self.header = Header(first["header"]["layout"], first["header"]["row"],
                                 dict(first["header"]["columns"]))
            self.total = first.get("total")
        except BaseException:
            self._end()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._end()

    def units(self) -> Iterator[Unit]:
        while True:
            message = self._receive()
            if message.get("end"):
                return
            yield Unit([Op(row, kind, code, parent, parent_row,
                           tuple(error) if error else None, scan)
                        for row, kind, code, parent, parent_row, error, scan
                        in message["unit"]])

    def _receive(self) -> dict:
        while b"\n" not in self._buffer:
            chunk = self._read_some()
            if not chunk:
                raise self._died()
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                raise self._failed("its answer was too long")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            raise self._failed("its answer could not be read") from None
        if not isinstance(message, dict):
            raise self._failed("its answer could not be read")
        if "refused" in message:
            code, text = message["refused"]
            raise FileRefused(str(code), str(text))
        return message

    def _read_some(self) -> bytes:
        stdout = self._process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(timeout=self.seconds):
                self._end()
                raise _too_slow(self.seconds)
        return os.read(stdout.fileno(), 1 << 20)

    def _died(self) -> FileRefused:
        status = self._process.wait(timeout=10)
        if status == -signal.SIGXCPU or status == -signal.SIGKILL:
            return _too_slow(self.seconds)
        log.warning("import parse process ended with status %s", status)
        return FileRefused(
            "unreadable_file",
            f"The file could not be read within an import's limits ({self.memory_mb} MiB of "
            f"memory, {self.seconds} seconds). Check that this is the right file; save it "
            "again as Excel Workbook (.xlsx) or CSV, and upload that.")

    def _failed(self, why: str) -> FileRefused:
        self._end()
        log.warning("import parse process: %s", why)
        return FileRefused("unreadable_file",
                           "The file could not be read. Save it again as Excel Workbook "
                           "(.xlsx) or CSV, and upload that.")

    def _end(self) -> None:
        process = self._process
        if process is None or self._ended:
            return
        self._ended = True
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def _too_slow(seconds: int) -> FileRefused:
    return FileRefused(
        "file_too_slow",
        f"Reading the file took longer than the {seconds} seconds an import may take: it "
        "is far larger or more complex than a supplier's sheet. Check that this is the right "
        "file; save the label columns as CSV and upload that.")


_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def _child_environment() -> dict[str, str]:
    """What the parse process needs and nothing more: no secret key, no database address."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(PYTHONPATH=_PROJECT_ROOT, PYTHONDONTWRITEBYTECODE="1",
               TMPDIR=tempfile.gettempdir())
    return env
