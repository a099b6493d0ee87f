"""Issue 17, findings 1 and 2: untrusted files are parsed in a process of their own, with hard
limits, and never in a gunicorn worker.

The exact attacks: a 9 KB workbook whose styles part holds 1,000,000 <xf/> (and the <font/>
variant); a workbook holding one 240 MiB cell (in row 1, and in the shared strings); a CSV
whose first line is 16 MiB of commas. Each is answered or failed within seconds with a
message a supervisor understands; on gunicorn as configured, no worker grows by 150 MiB.
Then the limits themselves: the archive check (names, sizes, ratio), the XML and CSV caps
while reading, the parse process's memory and time limits."""

from __future__ import annotations

import base64
import http.cookiejar
import io
import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid
import zipfile

import psutil
import pytest

from app.extensions import db
from app.imports import parse_child, parse_process, parsing
from app.imports import units as import_units
from app.models import Bag, Import, Job
from tests.helpers import PASSWORD, pg_only
from tests.runtime.test_production_runtime import gunicorn_server, wait_workers  # noqa: F401

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '</Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    '</Relationships>')
MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
PLAIN_STYLES = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet {MAIN}>'
                '<fonts count="1"><font/></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
                '<borders count="1"><border/></borders><cellXfs count="1"><xf/></cellXfs>'
                '</styleSheet>')
HEADER_STRINGS = ["Sr. No.", "QR Code"]
MIB = 1024 * 1024


def _strings_xml(strings) -> str:
    items = "".join(f"<si><t>{text}</t></si>" for text in strings)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst {MAIN} '
            f'count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>')


def _sheet_xml(rows: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet {MAIN}>'
            f"<sheetData>{rows}</sheetData></worksheet>")


HEADER_ROW = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
PARENT_ROW = '<row r="3"><c r="B3" t="inlineStr"><is><t>SB00001</t></is></c></row>'


def workbook(*, styles: str = PLAIN_STYLES, sheet: str | None = None,
             strings: str | None = None, big: tuple[str, str, bytes, int, str] | None = None
             ) -> bytes:
    """A minimal .xlsx written part by part. `big` = (part, text before, unit, repeats, text
    after): a part streamed in pieces, so that a 240 MiB cell never sits in this process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", styles)
        parts = {"xl/worksheets/sheet1.xml": sheet or _sheet_xml(HEADER_ROW + PARENT_ROW),
                 "xl/sharedStrings.xml": strings or _strings_xml(HEADER_STRINGS)}
        for name, text in parts.items():
            if big is not None and big[0] == name:
                _, before, unit, repeats, after = big
                with archive.open(name, "w", force_zip64=True) as part:
                    part.write(before.encode())
                    piece = unit * (MIB // len(unit))
                    for _ in range(repeats):
                        part.write(piece)
                    part.write(after.encode())
            else:
                archive.writestr(name, text)
    return buffer.getvalue()


def styles_bomb(tag: str) -> bytes:
    """Finding 1 exactly: 1,000,000 <xf/> (or <font/>) entries, about 5 MB unpacked."""
    if tag == "xf":
        styles = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet {MAIN}>'
                  '<fonts count="1"><font/></fonts><cellXfs count="1000000">'
                  + "<xf/>" * 1_000_000 + "</cellXfs></styleSheet>")
    else:
        styles = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet {MAIN}>'
                  '<fonts count="1000000">' + "<font/>" * 1_000_000 + "</fonts>"
                  '<cellXfs count="1"><xf/></cellXfs></styleSheet>')
    return workbook(styles=styles)


def huge_cell_in_row_1() -> bytes:
    """Finding 2: one 240 MiB cell, in row 1 (read by the header check)."""
    before = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              f'<worksheet {MAIN}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>')
    after = "</t></is></c></row>" + PARENT_ROW + "</sheetData></worksheet>"
    return workbook(big=("xl/worksheets/sheet1.xml", before, b"A", 240, after))


def huge_shared_string() -> bytes:
    """Finding 2: one 240 MiB cell in the shared strings, used by row 2."""
    before = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst {MAIN}>'
              "<si><t>Sr. No.</t></si><si><t>QR Code</t></si><si><t>")
    after = "</t></si></sst>"
    sheet = _sheet_xml(HEADER_ROW + '<row r="2"><c r="A2"><v>1</v></c>'
                       '<c r="B2" t="s"><v>2</v></c></row>' + PARENT_ROW)
    return workbook(sheet=sheet, big=("xl/sharedStrings.xml", before, b"B", 240, after))


def commas_csv() -> bytes:
    """Finding 2: a CSV whose first line is 16 MiB of commas (just under the upload limit)."""
    return b"," * (16 * MIB - 64 * 1024) + b"\ncode,kind,parent_code\nSB00001,parent,\n"


def incompressible_cell(row: int, size: int = 4 * MIB) -> bytes:
    """A cell of `size` characters that does not compress (so no ratio check sees it), in
    the given row, after a good header: the archive passes, the parse must stop it."""
    text = base64.b64encode(os.urandom(size * 3 // 4)).decode()
    cell = f'<c r="C{row}" t="inlineStr"><is><t>{text}</t></is></c>'
    if row == 1:
        sheet = _sheet_xml(HEADER_ROW.replace("</row>", cell + "</row>"))
    else:
        sheet = _sheet_xml(HEADER_ROW + f'<row r="{row}"><c r="A{row}"><v>1</v></c>'
                           + cell + "</row>")
    return workbook(sheet=sheet)


ATTACKS = {
    "styles_xf": (lambda: styles_bomb("xf"), "bomb.xlsx", "styles part is too large"),
    "styles_font": (lambda: styles_bomb("font"), "fonts.xlsx", "styles part is too large"),
    "cell_row_1": (huge_cell_in_row_1, "cell.xlsx", "sheet part (sheet1.xml) is too large"),
    "shared_string": (huge_shared_string, "strings.xlsx", "shared-strings part is too large"),
    "commas": (commas_csv, "commas.csv", "Line 1 of the CSV file is longer than 65,536"),
}


def test_the_attack_files_are_what_the_issue_describes():
    bomb = styles_bomb("xf")
    assert len(bomb) < 12_000  # "a 9 KB .xlsx"
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo("xl/styles.xml").file_size > 5_000_000
    cell = huge_cell_in_row_1()
    assert len(cell) < 400_000  # "an .xlsx of 241 KB"
    with zipfile.ZipFile(io.BytesIO(cell)) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > 240 * MIB
    assert len(commas_csv()) > 15.9 * MIB


# --- through the app (the request and the dry-run job), in this process -------------------

@pytest.fixture
def boss(client, login_as, supervisor):
    login_as(supervisor)
    return supervisor


def _upload(client, content: bytes, name: str):
    return client.post("/imports", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_is_refused_at_upload_within_seconds(client, boss, attack):
    build, name, message = ATTACKS[attack]
    content = build()
    started = time.monotonic()
    response = _upload(client, content, name)
    elapsed = time.monotonic() - started
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page, page[:3000]
    assert elapsed < 5, f"the upload took {elapsed:.1f} s"
    assert db.session.query(Import).count() == 0


def _run_jobs(app) -> None:
    import async_handler

    db.session.commit()
    while async_handler.JobRunner(app).run_once():
        pass
    db.session.expire_all()


def test_a_huge_cell_below_the_header_fails_the_dry_run_in_the_parse_process(app, client, boss):
    """The archive passes (the cell does not compress), the header is fine: the dry run's
    parse process stops at the cell as it reads it."""
    response = _upload(client, incompressible_cell(row=25), "later.xlsx")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    started = time.monotonic()
    _run_jobs(app)
    record = db.session.query(Import).one()
    check = db.session.get(Job, record.check_job_id)
    assert check.status == "failed"
    assert "A cell of the sheet holds more than 64 KB of text" in check.error
    assert time.monotonic() - started < 10
    assert db.session.query(Bag).count() == 0


def test_a_huge_cell_in_the_header_row_is_refused_at_upload(client, boss):
    response = _upload(client, incompressible_cell(row=1), "first.xlsx")
    assert response.status_code == 422
    assert "A cell of the sheet holds more than 64 KB of text" in response.get_data(as_text=True)


# --- the archive check --------------------------------------------------------------------

def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("members", "message"), [
    ({"xl/workbook.xml": b"x", "../../etc/passwd": b"x"}, "names no workbook uses"),
    ({"xl/workbook.xml": b"x", "/abs.xml": b"x"}, "names no workbook uses"),
    ({"xl/workbook.xml": b"x", "xl/theme/theme1.xml": b" " * (5 * MIB)},
     "part xl/theme/theme1.xml is too large"),
    ({"xl/workbook.xml": b"x", "xl/styles.xml": bytes(range(256)) * 5000},
     "styles part is too large"),
    ({"xl/workbook.xml": b"x", "xl/worksheets/sheet1.xml": b"<" * (3 * MIB)},
     "sheet part (sheet1.xml) is too large"),
])
def test_the_archive_check_refuses_by_part(members, message):
    with pytest.raises(parsing.FileRefused, match=re.escape(message)):
        parsing.check_workbook_archive(_zip(members))


def test_the_archive_check_passes_a_real_workbook():
    from openpyxl import Workbook

    book = Workbook()
    for number in range(5000):
        book.active.append([number, f"LABEL NO.{number:07d} LOT NO.:STAR44GG WT.:25KG"])
    buffer = io.BytesIO()
    book.save(buffer)
    parsing.check_workbook_archive(buffer.getvalue())


# --- the parse process's own limits ----------------------------------------------------------

def _units(content: bytes, file_type: str, encoding: str | None = None) -> list:
    import tempfile

    with tempfile.TemporaryFile() as handle:
        handle.write(content)
        handle.flush()
        with parse_process.open_units(handle, file_type, encoding, r"^SB\d{5}$") as source:
            return list(source.units)


def test_the_parse_process_streams_units_like_the_in_process_reader(app):
    rows = ["code,kind,parent_code", "SB00001,parent,"] + [
        f"{number:07d},child,SB00001" for number in range(1, 2001)]
    content = ("\n".join(rows) + "\n").encode()
    units = _units(content, "csv", "utf-8-sig")
    with parsing.open_rows(io.BytesIO(content), "csv", "utf-8-sig") as source:
        header = parsing.find_header(source.rows)
        expected = list(import_units.units(source.rows, header, r"^SB\d{5}$"))
    assert units == expected and len(units) == 2001


def test_the_memory_limit_fails_the_file_not_the_worker(make_app):
    """Below what the parse process needs at all: MemoryError there, a clear refusal here."""
    application = make_app(IMPORT_PARSE_MEMORY_MB=40)
    with application.app_context(), pytest.raises(parsing.FileRefused) as refused:
        parse_process.inspect_upload(workbook())
    assert refused.value.code in ("file_too_large", "unreadable_file")
    assert "40 MiB" in refused.value.message


def test_the_time_limit_fails_the_file(make_app):
    """A big, valid CSV with one processor second: the kernel ends the parse process."""
    rows = ["code,kind,parent_code", "SB00001,parent,"] + [
        f"{number:07d},child,SB00001" for number in range(1, 400_000)]
    content = ("\n".join(rows) + "\n").encode()
    application = make_app(IMPORT_PARSE_SECONDS=1)
    started = time.monotonic()
    with application.app_context(), pytest.raises(parsing.FileRefused) as refused:
        _units(content, "csv", "utf-8-sig")
    assert refused.value.code == "file_too_slow"
    assert "longer than the 1 seconds" in refused.value.message
    assert time.monotonic() - started < 15


def test_the_parse_process_gets_no_secrets(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "do-not-pass-this-on")
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@db/x")
    env = parse_process._child_environment()
    assert "SECRET_KEY" not in env and "DATABASE_URL" not in env


def test_the_light_constants_agree_with_the_models():
    from app.models import CHILD, PARENT
    from app.models.imports import CSV, SUPPLIER, TABLE, XLSX

    assert (parsing.PARENT, parsing.CHILD) == (PARENT, CHILD)
    assert (parsing.CSV, parsing.XLSX, parsing.TABLE, parsing.SUPPLIER) == (
        CSV, XLSX, TABLE, SUPPLIER)
    assert parse_child.MEMORY_MESSAGE


# --- on gunicorn as configured (4 gthread workers x 2 threads, preload) ----------------------

def _login(base: str, username: str):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                   "csrf_token": token}).encode()
    opener.open(base + "/login", data=body, timeout=10).close()
    page = opener.open(base + "/imports", timeout=10).read().decode()
    return opener, re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def _post_file(opener, base: str, token: str, content: bytes, name: str):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
            f"{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        base + "/imports", data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.geturl(), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.url, error.read().decode()


def _rss(workers) -> dict[int, int]:
    return {worker.pid: worker.memory_info().rss for worker in workers}


@pg_only
def test_the_attacks_against_gunicorn_leave_every_worker_small(gunicorn_server, make_user):  # noqa: F811
    make_user("boss", "supervisor")
    base, master = gunicorn_server(JOB_RUNNER_THREADS="1")
    workers = wait_workers(master.pid, 4)
    opener, token = _login(base, "boss")
    for _ in range(8):  # every worker has served a page before the baseline
        opener.open(base + "/imports", timeout=10).read()
    before = _rss(workers)

    for attack in sorted(ATTACKS):
        build, name, message = ATTACKS[attack]
        started = time.monotonic()
        status, _, page = _post_file(opener, base, token, build(), name)
        elapsed = time.monotonic() - started
        assert status == 422 and message in page, (attack, status, page[:500])
        assert elapsed < 10, f"{attack}: answered after {elapsed:.1f} s"

    # One that passes the upload and fails its dry run in a worker's job runner.
    status, url, page = _post_file(opener, base, token, incompressible_cell(row=25),
                                   "later.xlsx")
    assert status == 200 and "/imports/" in url, (status, page[:500])
    import_id = int(url.rstrip("/").rsplit("/", 1)[-1])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        check = json.loads(opener.open(f"{base}/api/v1/imports/{import_id}",
                                       timeout=10).read())["check_job"]
        if check["status"] in ("failed", "succeeded"):
            break
        time.sleep(0.5)
    assert check["status"] == "failed", check
    assert "A cell of the sheet holds more than 64 KB of text" in check["error"]

    after = _rss(workers)
    assert all(psutil.pid_exists(pid) for pid in before), "a worker died"
    growth = {pid: (after[pid] - before[pid]) / MIB for pid in before}
    assert max(growth.values()) < 150, f"worker RSS growth in MiB: {growth}"
