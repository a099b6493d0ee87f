"""Imports in a real browser: a supervisor uploads the suppliers' sheet, watches the dry run,
confirms, and sees the import's outcome; the pages at 1280 and 360 px, with no console
errors or CSP violations. A job runner thread runs the jobs, as in a gunicorn worker."""

import pytest
from tests.imports.support import SHEET, xlsx

import async_handler
from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def job_runner(app):
    runner = async_handler.start_runner(app)
    yield runner
    async_handler.stop_runner()


def choose_file(page, name: str, content: bytes, mime: str = XLSX) -> None:
    page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": content}])


def test_upload_dry_run_confirm_and_import(live_server, page_for, supervisor, job_runner):
    page = page_for(1280, 800)
    log_in_page(page, live_server, supervisor.username, PASSWORD)
    page.click("nav >> text=Import")
    page.wait_for_url("**/imports")
    screenshot(page, "imports-upload-1280")

    choose_file(page, "photo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")
    page.click("#submit")
    page.wait_for_selector(".invalid-feedback")
    assert "it is a PNG image" in page.inner_text(".invalid-feedback")
    screenshot(page, "imports-refused-1280")
    # The refused upload is answered 422 with the form and its message, which Chromium also
    # logs as a failed resource load: an answer, not a page error.
    assert page.problems == ["Failed to load resource: the server responded with a status "
                             "of 422 (UNPROCESSABLE ENTITY)"]
    page.problems.clear()

    content = xlsx(SHEET)
    choose_file(page, "supplier-batch.xlsx", content)
    page.click("#submit")
    page.wait_for_url("**/imports/*")
    page.wait_for_selector("[data-testid=check-message]", timeout=30000)
    assert "Would create 2 parents and 5 children" in page.inner_text("[data-testid=check-message]")
    assert "0016591" in page.inner_text("[data-testid=check-errors]")
    screenshot(page, "imports-dry-run-1280")

    page.click("#confirm-form #submit")
    page.wait_for_selector("[data-testid=import-message]", timeout=30000)
    assert "Created 2 parents and 5 children" in page.inner_text("[data-testid=import-message]")
    assert page.is_visible("[data-testid=import-report]")
    screenshot(page, "imports-done-1280")

    phone = page_for(360, 740)
    log_in_page(phone, live_server, supervisor.username, PASSWORD)
    phone.goto(live_server + "/imports")
    screenshot(phone, "imports-upload-360")
    choose_file(phone, "supplier-batch.xlsx", content)
    phone.click("#submit")
    phone.wait_for_selector("[data-testid=check-message]", timeout=30000)
    assert phone.is_visible("[data-testid=same-file]")
    assert "Nothing would change" in phone.inner_text("[data-testid=check-message]")
    screenshot(phone, "imports-dry-run-360")
    assert page.problems == [] and phone.problems == []
