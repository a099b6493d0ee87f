"""The message catalogs (issue 23, docs/TRANSLATING.md): extract, update, compile, check.

    python3 dev.py i18n update   extract every message of app/, templates/ and the scripts'
                                 strings; merge them into app/translations/*/messages.po
                                 (new ones empty, gone ones dropped); compile the .mo
    python3 dev.py i18n check    fail (exit 1) when the catalogs are stale (a message in the
                                 source missing from a catalog, or one no longer used), when a
                                 Hindi translation is missing or fuzzy, when a translation's
                                 %(name)s placeholders differ from the English, or when a
                                 compiled .mo is not the compile of its .po

Babel's own API, no shell: the same extraction in CI and on a laptop."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
LANGUAGES = ("hi",)  # English is the source language: its messages are the msgids
# What marks a message: gettext and friends, N_ (marked, translated where shown), Text (a
# refusal's template) and the English message argument of the domain errors.
KEYWORDS = {
    "_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
    "N_": None, "Text": None,
    "DomainError": (2,), "Refusal": (2,), "ScanError": (2,), "AccountError": (2,),
}
METHODS = [
    ("app/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),  # the plain-text part of an e-mail
]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extract() -> Catalog:
    catalog = Catalog(project="TraceTrack", charset="utf-8")
    for folder in ("app", "templates"):
        methods = [(pattern.split("/", 1)[1], method) for pattern, method in METHODS
                   if pattern.startswith(folder + "/")]
        for filename, lineno, message, comments, context in extract_from_dir(
                ROOT / folder, methods, keywords=KEYWORDS,
                options_map={"**.html": {"extensions": "jinja2.ext.i18n"},
                             "**.txt": {"extensions": "jinja2.ext.i18n"}},
                strip_comment_tags=True):
            if message in ("", ()) or (isinstance(message, tuple) and not message[0]):
                continue
            catalog.add(message, None, [(f"{folder}/{filename}", lineno)],
                        auto_comments=comments, context=context)
    return catalog


def _po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def _read(language: str) -> Catalog:
    path = _po_path(language)
    if not path.exists():
        return Catalog(locale=language, project="TraceTrack", charset="utf-8")
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def _mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def update() -> None:
    template = extract()
    for language in LANGUAGES:
        catalog = _read(language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        path = _po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, sort_output=False, omit_header=False)
        path.with_suffix(".mo").write_bytes(_mo_bytes(_read(language)))
        missing = [m.id for m in catalog if m.id and not _translated(m)]
        print(f"{language}: {len(catalog)} messages, {len(missing)} without a translation")


def _translated(message) -> bool:
    if message.fuzzy:
        return False
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


def _key(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def problems() -> list[str]:
    found = []
    source = {_key(m.id) for m in extract() if m.id}
    for language in LANGUAGES:
        catalog = _read(language)
        held = {_key(m.id) for m in catalog if m.id}
        for message_id in sorted(source - held):
            found.append(f"{language}: not in the catalog (run python3 dev.py i18n update): "
                         f"{message_id!r}")
        for message_id in sorted(held - source):
            found.append(f"{language}: in the catalog but no longer in the source (run "
                         f"python3 dev.py i18n update): {message_id!r}")
        for message in catalog:
            if not message.id:
                continue
            key = _key(message.id)
            if not _translated(message):
                found.append(f"{language}: no translation{' (fuzzy)' if message.fuzzy else ''}"
                             f": {key!r}")
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for string in strings:
                if sorted(set(PLACEHOLDER.findall(string))) != sorted(set(PLACEHOLDER.findall(key))):
                    found.append(f"{language}: the placeholders differ from the English: {key!r}")
        mo = _po_path(language).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != _mo_bytes(catalog):
            found.append(f"{language}: {mo.relative_to(ROOT)} is not the compile of its .po "
                         "(run python3 dev.py i18n update)")
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
        return 0
    if command == "check":
        found = problems()
        for line in found:
            print(line)
        print(f"i18n: {len(found)} problem(s)" if found else "i18n: catalogs complete and current")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
