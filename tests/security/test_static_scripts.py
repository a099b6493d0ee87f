"""The pages' JavaScript: files from static/js only (the CSP allows no inline script), each
small enough to read in one sitting."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_template_has_an_inline_script():
    inline = []
    for template in (ROOT / "templates").rglob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", template.read_text()):
            # A JSON data block (type="application/json") is data the browser never runs.
            if "src=" not in tag and 'type="application/json"' not in tag:
                inline.append(f"{template.relative_to(ROOT)}: {tag}")
    assert inline == []


def test_no_script_is_over_500_lines():
    long = {str(path.relative_to(ROOT)): len(path.read_text().splitlines())
            for path in (ROOT / "static" / "js").rglob("*.js")}
    assert long and {path: lines for path, lines in long.items() if lines > 500} == {}
