"""normalise_code against what real scanners and phone keyboards type (DESIGN.md section 4)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import REJECTED, Bag, ScanEvent
from app.rules.codes import CodeError, is_doubled_read, matches, normalise_code

PARENT_PATTERN = r"^(SB\d{5}|M444-\d{5})$"
CHILD_PATTERN = r"^[A-Z0-9]{4,20}$"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0016586", "0016586"),
        # line endings and tabs a keyboard-wedge scanner appends
        ("0016586\r", "0016586"),
        ("0016586\n", "0016586"),
        ("0016586\r\n", "0016586"),
        ("0016586\t", "0016586"),
        ("\t0016586\r\n", "0016586"),
        ("  0016586  ", "0016586"),
        # GS1 group separator and NUL bytes
        ("\x1d0016586", "0016586"),
        ("0016586\x1d", "0016586"),
        ("\x000016586\x00", "0016586"),
        ("0016586\x00\r\n", "0016586"),
        # lower case
        ("sb00001", "SB00001"),
        ("m444-00012", "M444-00012"),
        ("abc123def", "ABC123DEF"),
        # full-width digits and letters (phone IMEs)
        ("００１６５８６", "0016586"),
        ("ＳＢ０００１２", "SB00012"),
        ("ｓｂ０００１２", "SB00012"),
        # zero-width characters
        ("\u200b0016586", "0016586"),
        ("0016\u200b586", "0016586"),
        ("\ufeff0016586", "0016586"),
        ("0016586\u200c\u200d\u2060", "0016586"),
        # no-break spaces
        ("\u00a00016586\u00a0", "0016586"),
        ("0016586\u202f", "0016586"),
        ("\u20070016586", "0016586"),
        # everything at once
        ("\ufeff\u00a0ｓｂ０\u200b００１２\x1d\x00\r\n", "SB00012"),
    ],
)
def test_normalise_code_removes_scanner_artefacts(raw, expected):
    assert normalise_code(raw) == expected


@pytest.mark.parametrize("raw", ["SB00001\r\n", "ｓｂ００００１", "\u200bsb00001\x1d"])
def test_normalised_parent_codes_match_the_parent_pattern(raw):
    code = normalise_code(raw)
    assert matches(PARENT_PATTERN, code)


@pytest.mark.parametrize("raw", ["0016586\r", "００１６５８６", "\ufeffab12cd\t"])
def test_normalised_child_codes_match_the_child_pattern(raw):
    code = normalise_code(raw)
    assert matches(CHILD_PATTERN, code)
    assert not matches(PARENT_PATTERN, code)


def test_normalise_code_is_idempotent():
    once = normalise_code("\ufeff ｓｂ０００１２\r\n")
    assert normalise_code(once) == once


def test_doubled_read_is_detected():
    code = normalise_code("00165860016586\r\n")
    assert code == "00165860016586"
    assert is_doubled_read(code) is True


@pytest.mark.parametrize("code", ["0016586", "00165860016587", "ABABAB", "AAAA", "ABCABCD"])
def test_codes_that_are_not_doubled_reads(code):
    assert is_doubled_read(code) is False


@pytest.mark.parametrize(
    "raw",
    ["", " ", "   ", "\r\n", "\t", "\x1d", "\x00", "\x00\x00", "\u200b", "\ufeff",
     "\u00a0", "\u202f \u2007", " \r\n\t\x1d\x00\u200b\ufeff\u00a0 "],
)
def test_empty_or_whitespace_only_input_is_refused(raw):
    with pytest.raises(CodeError):
        normalise_code(raw)


def test_ten_kilobytes_of_input_is_refused():
    with pytest.raises(CodeError):
        normalise_code("A" * 10_240)


def test_ten_kilobytes_of_whitespace_padding_is_refused():
    # A long run of padding around a good code is still not a scan.
    with pytest.raises(CodeError):
        normalise_code(" " * 10_240 + "0016586")


@pytest.mark.parametrize("raw", [16586, 0, 16586.0, 1e5, True, False, None,
                                 ["0016586"], [], {"code": "0016586"}, {}, b"0016586"])
def test_non_string_input_is_refused_not_converted(raw):
    with pytest.raises(CodeError):
        normalise_code(raw)


def test_code_error_is_a_value_error():
    # callers that catch ValueError (forms, imports) still see it
    assert issubclass(CodeError, ValueError)


# --- through the API ---------------------------------------------------------------------

def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_doubled_read_child_scan_is_refused_through_the_api(client, login_as, staff):
    login_as(staff)
    assert client.post("/api/v1/scans/parent", json={"code": "SB00001"}).status_code == 201
    bags_before = _count(Bag)

    response = client.post("/api/v1/scans/child",
                           json={"parent": "SB00001", "code": "00165860016586\r\n"})

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_code"
    assert _count(Bag) == bags_before
    assert _count(Bag, Bag.code == "00165860016586") == 0
    assert _count(ScanEvent, ScanEvent.outcome == REJECTED,
                  ScanEvent.result == "invalid_code") == 1
    parent = db.session.scalar(select(Bag).where(Bag.code == "SB00001"))
    db.session.refresh(parent)
    assert parent.child_count == 0


def test_scanner_artefacts_are_stripped_through_the_api(client, login_as, staff):
    login_as(staff)
    response = client.post("/api/v1/scans/parent", json={"code": "\ufeffｓｂ０００１２\r\n"})
    assert response.status_code == 201
    assert response.get_json()["parent"]["code"] == "SB00012"

    response = client.post("/api/v1/scans/child",
                           json={"parent": "sb00012\t", "code": "\x1d００１６５８６\u00a0\x00"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["result"] == "linked"
    assert body["child"]["code"] == "0016586"
    assert _count(Bag, Bag.code == "0016586") == 1
