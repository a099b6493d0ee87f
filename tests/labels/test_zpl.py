"""ZPL for Zebra printers (issue 22 item 3): one ^XA ... ^XZ block per code with the code in
its ^BQ field and printed under it, at 203 and 300 dpi; sent to LABEL_PRINTER_URL as a
background job whose page says what happened (a real TCP listener plays the printer)."""

import re
import socket
import threading

import pytest

import async_handler
from app.extensions import db
from app.labels.zpl import zpl_labels
from app.models import Job
from tests.helpers import assert_unchanged, audit_rows, snapshot
from tests.labels.support import create_series

BLOCK = re.compile(r"\^XA(.*?)\^XZ", re.S)


def test_three_codes_make_three_blocks_with_the_code_in_the_qr_field(client, boss):
    series = create_series(client, "SB", 3)

    response = client.get(f"/labels/{series['id']}.zpl")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    blocks = BLOCK.findall(text)
    assert len(blocks) == 3 == text.count("^XA") == text.count("^XZ")
    for code, block in zip(series["codes"], blocks, strict=True):
        assert re.search(r"\^BQN,2,\d+\^FDMA," + code + r"\^FS", block), block
        assert f"^FD{code}^FS" in block  # the text under the QR
        assert "^PW400" in block and "^LL240" in block  # 50 x 30 mm at 8 dots/mm


def test_300_dpi_scales_the_label_and_the_modules():
    text = zpl_labels(["SB00001"], 300)
    assert "^PW600" in text and "^LL360" in text and "^BQN,2,9" in text


def test_a_bad_dpi_is_refused(client, boss):
    series = create_series(client, "SB", 1)
    before = snapshot()
    response = client.get(f"/labels/{series['id']}.zpl?dpi=600")
    assert response.status_code == 422
    assert_unchanged(before, snapshot())


class Printer:
    """A local TCP listener standing in for a Zebra's raw port: keeps every byte it gets."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        connection, _ = self.server.accept()
        with connection:
            while chunk := connection.recv(65536):
                self.received += chunk

    def close(self):
        self.thread.join(timeout=10)
        self.server.close()


@pytest.fixture
def printer():
    listener = Printer()
    yield listener
    listener.close()


def run_jobs(app) -> None:
    runner = async_handler.JobRunner(app)
    while runner.run_once():
        pass
    db.session.expire_all()
    db.session.rollback()


def test_printing_sends_exactly_the_zpl_to_the_printer(make_app, make_user, printer):
    from tests.helpers import log_in

    app = make_app(LABEL_PRINTER_URL=f"tcp://127.0.0.1:{printer.port}")
    with app.app_context():
        boss = make_user("sam", "supervisor")
        client = app.test_client()
        log_in(client, "sam")
        series = create_series(client, "SB", 3)
        page = client.get("/labels").get_data(as_text=True)
        assert f"127.0.0.1:{printer.port}" in page and "Send to printer" in page

        response = client.post(f"/labels/{series['id']}/print", data={"dpi": "300"})

        assert response.status_code == 303
        job = db.session.scalar(db.select(Job))
        assert response.headers["Location"].endswith(f"/jobs/{job.id}")
        run_jobs(app)
        printer.close()
        assert printer.received.decode() == zpl_labels(series["codes"], 300)
        job = db.session.get(Job, job.id)
        assert job.status == "succeeded"
        assert job.result == {"labels": 3, "printer": f"127.0.0.1:{printer.port}",
                              "bytes_sent": len(printer.received)}
        [audit] = audit_rows("label.print")
        assert audit.actor_id == boss.id
        assert audit.after == {"printer": f"127.0.0.1:{printer.port}", "dpi": 300, "labels": 3}
        page = client.get("/labels").get_data(as_text=True)
        assert f'data-job-id="{job.id}"' in page and "3 labels to 127.0.0.1" in page


def test_a_printer_that_does_not_answer_fails_the_job_in_words(make_app, make_user):
    from tests.helpers import log_in

    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    app = make_app(LABEL_PRINTER_URL=f"tcp://127.0.0.1:{port}")
    with app.app_context():
        make_user("sam", "supervisor")
        client = app.test_client()
        log_in(client, "sam")
        series = create_series(client, "SB", 2)
        client.post(f"/labels/{series['id']}/print", data={"dpi": "203"})

        run_jobs(app)

        job = db.session.scalar(db.select(Job))
        assert job.status == "failed"
        assert f"The label printer at 127.0.0.1:{port} did not take the labels" in job.error
        assert "print again" in client.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_printing_without_a_printer_is_refused_and_changes_nothing(client, boss):
    series = create_series(client, "SB", 2)
    before = snapshot()

    response = client.post(f"/labels/{series['id']}/print", data={"dpi": "203"})

    assert response.status_code == 409
    assert "No label printer is set up" in response.get_data(as_text=True)
    assert_unchanged(before, snapshot())
