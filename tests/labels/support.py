"""Reading label PDFs back as a scanner would: each page rasterised by pdftoppm (Debian's
poppler-utils), each label's area cropped by the layout's own geometry, and every crop decoded
by zbarimg (zbar-tools) in one call. Decoding a whole A4 page at once can miss codes (DESIGN
8.7), so each place is read on its own, in sheet order."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from app.labels.sheets import Layout

DPI = 150
needs_tools = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("zbarimg")),
    reason="pdftoppm (poppler-utils) and zbarimg (zbar-tools) are not installed; .ci/run installs them")
ZBAR = "{http://zbar.sourceforge.net/2008/barcode}"


def rasterise(pdf: bytes, folder: Path, dpi: int = DPI) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "sheet.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(source), str(folder / "page")],
                   check=True)
    return sorted(folder.glob("page-*.png"), key=lambda path: int(path.stem.split("-")[1]))


def decode(images: list[Path]) -> list[list[str]]:
    """What zbarimg reads in each image, in the order given."""
    result = subprocess.run(["zbarimg", "-q", "--xml", *map(str, images)],
                            capture_output=True, text=True, check=False)
    assert result.returncode in (0, 4), result.stderr  # 4: some image held no code
    found = {source.get("href"): [data.text for data in source.iter(f"{ZBAR}data")]
             for source in ET.fromstring(result.stdout).iter(f"{ZBAR}source")}  # noqa: S314  (zbarimg's own output)
    return [found.get(str(image), []) for image in images]


def read_places(pdf: bytes, layout: Layout, folder: Path, dpi: int = DPI) -> list[list[str]]:
    """Every place of every page, row by row, left to right: the codes read in it."""
    crops = []
    scale = dpi / 25.4
    for number, page in enumerate(rasterise(pdf, folder, dpi)):
        with Image.open(page) as image:
            for place in range(layout.places):
                x, y = layout.corner(place)
                box = (round(x * scale), round(y * scale), round((x + layout.label[0]) * scale),
                       round((y + layout.label[1]) * scale))
                path = folder / f"p{number}-{place:02d}.png"
                image.crop(box).save(path)
                crops.append(path)
    return decode(crops)


def create_series(client, prefix: str = "SB", count: int = 24) -> dict:
    response = client.post("/api/v1/labels/series", json={"prefix": prefix, "count": count})
    assert response.status_code == 201, response.get_json()
    return response.get_json()
