"""The PDFs in the reader's language (issue 23 for the documents merged after it): a Hindi
supervisor's manifest is written in Hindi with the Devanagari font embedded, and its words are
drawn on the page (rasterised: ink where each Devanagari word stands); an English reader's
manifest stays English; labels keep their codes (the QR reads back) while their words follow
the language. As tests/documents/test_pdf_fonts.py, poppler reads the files back."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from app.labels import sheets
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.labels.support import decode, rasterise, read_places

needs_poppler = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pdftotext", "pdffonts", "pdftoppm", "pdfinfo")),
    reason="poppler-utils (pdftotext, pdffonts, pdftoppm, pdfinfo) are not installed; .ci/run "
           "installs them")
needs_zbar = pytest.mark.skipif(not shutil.which("zbarimg"),
                                reason="zbarimg (zbar-tools) is not installed; .ci/run installs it")
DEVANAGARI = re.compile(r"[\u0900-\u097F]")
DPI = 150


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603


def pdf_words(path) -> list[tuple[str, float, float, float, float]]:
    """Every word pdftotext finds on page 1, with its box in points."""
    html = _run("pdftotext", "-bbox", "-f", "1", "-l", "1", str(path), "-")
    root = ET.fromstring(html.replace('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 '  # noqa: S314
                                      'Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">', ""))
    return [(word.text or "", *(float(word.get(side)) for side in ("xMin", "yMin", "xMax", "yMax")))
            for word in root.iter() if word.tag.endswith("word")]


def ink(image: Image.Image, box: tuple[float, float, float, float]) -> int:
    """Dark pixels in a box given in points."""
    scale = DPI / 72
    crop = image.convert("L").crop(tuple(round(value * scale) for value in box))
    return sum(crop.histogram()[:160])  # the grey labels count too


def embedded_fonts(path) -> list[str]:
    return [line.split()[0].split("+")[-1] for line in _run("pdffonts", str(path)).splitlines()[2:]]


@pytest.fixture
def loaded(make_user):
    boss = make_user("mukesh", "supervisor", language="hi")
    reader = make_user("sam", "staff", language="en")
    for code in ("SB00001", "SB00002"):
        complete_parent(boss, code)
    new_dispatch(boss, "D000007", expected=3, destination="Nagpur depot", driver="Ramesh")
    load(boss, "D000007", "SB00001")
    load(boss, "D000007", "SB00002")
    return boss, reader


@needs_poppler
def test_a_hindi_readers_manifest_is_hindi_in_the_devanagari_font_and_drawn(
        client, login_as, loaded, tmp_path):
    login_as(loaded[0])
    response = client.get("/dispatches/D000007/manifest.pdf")
    assert response.status_code == 200
    path = tmp_path / "manifest.pdf"
    path.write_bytes(response.data)

    fonts = embedded_fonts(path)
    assert any(name.startswith("NotoSansDevanagari") for name in fonts), fonts
    assert not any(name.startswith("Helvetica") for name in fonts), fonts
    text = _run("pdftotext", "-layout", str(path), "-")
    squeezed = text.replace(" ", "")
    for words in ("डिस्पैचमैनिफ़ेस्ट", "लदाईजारी", "गाड़ी", "मंज़िल", "ड्राइवर", "हस्ताक्षर",
                  "कुल:2बड़ीबोरियाँ44किलो", "पेज1/1"):
        assert words in squeezed, (words, text)
    for data in ("D000007", "SB00001", "SB00002", "MH12AB1234", "Nagpur", "Ramesh"):
        assert data in text, data  # codes and what people typed stay as they are
    assert "Vehicle" not in text and "Signature" not in text

    # On the rasterised page, every Devanagari word has ink where it stands.
    [page] = [image for image in rasterise(response.data, tmp_path / "pages", DPI)
              if image.stem.endswith("-1")]
    hindi = [word for word in pdf_words(path) if DEVANAGARI.search(word[0])]
    assert len(hindi) >= 10, hindi
    with Image.open(page) as image:
        for word, *box in hindi:
            assert ink(image, tuple(box)) >= 10, word
        # the check can fail: a stretch of the margin has none
        assert ink(image, (2, 2, 30, 30)) == 0


@needs_poppler
def test_an_english_readers_manifest_of_the_same_dispatch_stays_english(client, login_as,
                                                                        loaded, tmp_path):
    login_as(loaded[1])
    response = client.get("/dispatches/D000007/manifest.pdf", headers={"Accept-Language": "hi"})
    path = tmp_path / "manifest.pdf"
    path.write_bytes(response.data)
    text = _run("pdftotext", "-layout", str(path), "-")
    assert "DISPATCH MANIFEST" in text and "Signature" in text and "2 / 3 parents" in text
    assert not DEVANAGARI.search(text)


@needs_poppler
@needs_zbar
def test_a_hindi_label_keeps_its_code_and_says_its_title_in_hindi(client, login_as, loaded,
                                                                   tmp_path):
    login_as(loaded[0])
    response = client.get("/bags/SB00001/label.pdf")
    assert response.status_code == 200
    path = tmp_path / "label.pdf"
    path.write_bytes(response.data)
    assert "लेबल SB00001" in _run("pdfinfo", str(path))
    assert "SB00001" in _run("pdftotext", str(path), "-")
    assert decode(rasterise(response.data, tmp_path / "pages", 300)) == [["SB00001"]]


@needs_poppler
@needs_zbar
def test_the_command_sheet_prints_its_words_in_hindi_and_its_codes_as_they_are(
        client, login_as, loaded, tmp_path):
    login_as(loaded[0])
    response = client.get("/scan/commands.pdf")
    path = tmp_path / "commands.pdf"
    path.write_bytes(response.data)
    text = _run("pdftotext", "-layout", str(path), "-")
    for words in ("पूरा करें", "रद्द करें", "TT:FINISH", "TT:CANCEL"):
        assert words in text, (words, text)
    assert any(name.startswith("NotoSansDevanagari") for name in embedded_fonts(path))
    assert "Finish" not in text
    from app.scanning.commands import COMMANDS

    places = read_places(response.data, sheets.LAYOUTS["a4-3x8"], tmp_path / "places")
    assert places[:len(COMMANDS)] == [[command.code] for command in COMMANDS]


@needs_poppler
def test_a_label_sheet_made_outside_a_request_is_english(tmp_path):
    """Outside a request (a job, the CLI) the words are the English ones."""
    path = tmp_path / "sheet.pdf"
    path.write_bytes(sheets.render_sheet(sheets.code_labels(["SB00001"]), sheets.LAYOUTS["single"]))
    assert "Title:           Labels (One 50 x 30 mm label per page (roll printers))" in _run(
        "pdfinfo", str(path))
