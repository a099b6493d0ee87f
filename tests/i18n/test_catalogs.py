"""The catalogs are complete and current (the CI check `python3 dev.py i18n`), the scripts'
strings are all in the catalogs, and no template shows text outside a translation call."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import Environment

from app.i18n_js import JS_STRINGS
from tools import i18n_catalog

ROOT = Path(__file__).resolve().parents[2]

VISIBLE_ATTRIBUTES = {"placeholder", "title", "aria-label", "alt", "data-label"}
# Words that are the same in every language: the product, file formats, examples of codes.
UNTRANSLATED = {"TraceTrack", "CSV", "XLSX", "Excel", "PDF", "ZPL", "SHA"}  # SHA-256
CLASS_BLOCKS = {"body_class", "main_class"}
WORD = re.compile(r"[A-Za-z]{2,}")


def test_the_catalogs_are_complete_and_current():
    assert i18n_catalog.problems() == []


def test_the_check_fails_on_a_message_without_hindi(monkeypatch):
    real = i18n_catalog._read

    def without_one(language):
        catalog = real(language)
        catalog["Scan a child bag"].string = ""
        return catalog

    monkeypatch.setattr(i18n_catalog, "_read", without_one)
    found = i18n_catalog.problems()
    assert any("no translation" in line and "Scan a child bag" in line for line in found)


def test_the_check_fails_on_a_stale_catalog(monkeypatch):
    real = i18n_catalog.extract

    def with_a_new_message():
        catalog = real()
        catalog.add("A message added to the source since the last update")
        return catalog

    monkeypatch.setattr(i18n_catalog, "extract", with_a_new_message)
    found = i18n_catalog.problems()
    assert any("not in the catalog" in line for line in found)


def test_the_check_fails_on_a_translation_that_drops_a_placeholder(monkeypatch):
    real = i18n_catalog._read

    def broken(language):
        catalog = real(language)
        catalog["%(code)s added to %(parent)s"].string = "जुड़ी"
        return catalog

    monkeypatch.setattr(i18n_catalog, "_read", broken)
    assert any("placeholders differ" in line for line in i18n_catalog.problems())


def test_every_string_the_scripts_translate_is_in_the_catalog():
    used = set()
    for path in (ROOT / "static" / "js").rglob("*.js"):
        if "vendor" in path.parts or path.name == "i18n.js":
            continue
        for literal in re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"', path.read_text()):
            used.add(json.loads(f'"{literal}"'))
    assert used, "no t(\"...\") call found in static/js"
    assert sorted(used - set(JS_STRINGS)) == [], "add these to app/i18n_js.py"
    assert sorted(set(JS_STRINGS) - used) == [], "no script uses these: drop them"


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


def untranslated_text(source: str) -> list[str]:
    """The template's own words that a reader sees and no translation call covers: the
    text between Jinja tags (outside {% trans %} blocks), as HTML text or a visible
    attribute. Jinja expressions ({{ ... }}) are values, checked by the page tests."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    pieces, depth, in_trans, in_class, previous = [], 0, False, False, ""
    for _, kind, value in env.lex(source):
        if kind == "name" and value in ("trans", "endtrans") and depth:
            in_trans = value == "trans"
        if kind == "name" and depth and previous == "block":
            in_class = value in CLASS_BLOCKS  # {% block body_class %}: an attribute's value
        if kind == "name" and value == "endblock":
            in_class = False
        previous = value if kind == "name" else previous
        if kind in ("block_begin", "variable_begin"):
            depth += 1
            pieces.append("\x00")  # an expression stands between the words around it
        elif kind in ("block_end", "variable_end"):
            depth -= 1
        elif kind == "data" and not in_trans and not in_class:
            pieces.append(value)
    parser = _Visible()
    parser.feed("".join(pieces).replace("\x00", " "))
    words = []
    for text in parser.texts:
        words += [word for word in WORD.findall(text) if word not in UNTRANSLATED]
    return words


TEMPLATES = sorted(str(path.relative_to(ROOT / "templates"))
                   for path in (ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_a_template_shows_no_text_outside_a_translation_call(name):
    words = untranslated_text((ROOT / "templates" / name).read_text())
    assert words == [], f"templates/{name}: wrap these in _() or {{% trans %}}: {words}"


def test_the_scan_finds_text_outside_a_translation_call():
    assert untranslated_text('<p>{{ _("Scan") }} Finish now</p>') == ["Finish", "now"]
    assert untranslated_text('<input placeholder="Find a bag">') == ["Find", "bag"]
    assert untranslated_text('<p>{% trans %}Finish <b>now</b>{% endtrans %}</p>') == []
    assert untranslated_text('<p data-x="{{ y }}">{{ _("Scan") }}</p>') == []
