"""Languages and time zones (issue 23, DESIGN.md 8.6): which language and zone a request
speaks, translation of refusals, and formats.

- Language: the user's setting, else the session's choice (the switch in the navigation,
  for the login page and shared stations), else the browser's Accept-Language, else
  DEFAULT_LANGUAGE. `en` asked for as `en-IN` formats numbers the Indian way too.
- Time zone: the user's setting, else APP_TIMEZONE. Stored times stay UTC.
- Messages: gettext catalogs under app/translations/ (docs/TRANSLATING.md). A refusal carries
  its English template (app.domain.Text), so the one error handler answers it in the request's
  language; its code never changes.
- Formats: Babel's, with Latin digits and Indian grouping (1,00,000) for hi and en-IN.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.numbers import format_decimal
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale, get_timezone, gettext, refresh
from flask_login import current_user
from markupsafe import Markup

from app.domain import N_, Text
from app.site_scope import current_site_timezone

LANGUAGES = {"en": "English", "hi": "हिन्दी"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SESSION_KEY = "language"

babel = Babel()


def init_i18n(app: Flask) -> None:
    compile_catalogs_if_missing()
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=str(TRANSLATIONS),
                   default_locale=app.config.get("DEFAULT_LANGUAGE", "en"),
                   default_timezone=app.config.get("APP_TIMEZONE", "UTC"))
    # Flask-Babel keeps the choice on `g`, which a request shares with an app context pushed
    # before it (tests, CLI): every request chooses afresh.
    app.before_request(refresh)
    app.jinja_env.add_extension("jinja2.ext.i18n")  # {% trans %} blocks (Flask-Babel installs _)
    app.add_template_global(page_language, "page_language")
    app.add_template_global(LANGUAGES, "languages")
    app.add_template_global(js_strings_json, "js_strings_json")
    app.add_template_global(user_zone_name, "user_zone_name")
    app.add_template_filter(number, "number")
    app.add_template_filter(translate, "translate")
    app.add_template_filter(word, "word")
    app.add_template_global(refusal_reason, "refusal_reason")


def compile_catalogs_if_missing() -> None:
    """The .po files are the source and the compiled .mo are committed beside them (CI
    checks that they agree: docs/TRANSLATING.md). A tree without a .mo compiles it here,
    before the first request; one that cannot be written keeps English, and says so."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists():
            continue
        try:
            with po.open("rb") as source, mo.open("wb") as target:
                write_mo(target, read_po(source))
        except OSError as exc:
            logging.getLogger("tracetrack").warning("cannot compile %s: %s", po, exc)


def _user_setting(name: str) -> str | None:
    try:
        if current_user and current_user.is_authenticated:
            return getattr(current_user, name, None) or None
    except Exception:  # noqa: BLE001 - an error page while the database is down: no user
        return None
    return None


def select_language() -> str:
    """`en` or `hi`: what the words are in."""
    chosen = _user_setting("language")
    if chosen in LANGUAGES:
        return chosen
    chosen = session.get(SESSION_KEY) if request else None
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(list(LANGUAGES)) if request else None
    return best or current_app.config.get("DEFAULT_LANGUAGE", "en")


def select_locale() -> str:
    """The Babel locale: the language, as `en_IN` when the browser asks for Indian English
    (Indian grouping of numbers; the words stay the English ones)."""
    language = select_language()
    if language == "en" and request:
        english = [value.lower() for value, _ in request.accept_languages
                   if value.lower().split("-")[0] == "en"]
        if english and english[0] == "en-in":
            return "en_IN"
    return language


def select_timezone() -> str:
    """The user's own zone, else the current site's (issue 21), else APP_TIMEZONE."""
    chosen = _user_setting("timezone")
    if chosen and is_timezone(chosen):
        return chosen
    site_zone = current_site_timezone()
    if site_zone and is_timezone(site_zone):
        return site_zone
    return current_app.config["APP_TIMEZONE"]


def is_timezone(name: object) -> bool:
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def user_zone() -> ZoneInfo:
    """The zone every time and every "today" of this request is in."""
    return ZoneInfo(user_zone_name())


def user_zone_name() -> str:
    """The request's zone; outside a request (jobs, the CLI) APP_TIMEZONE."""
    if not has_request_context():
        return current_app.config["APP_TIMEZONE"]
    return str(get_timezone())


def page_language() -> str:
    """For <html lang>: `en` or `hi`."""
    if not has_request_context():
        return current_app.config.get("DEFAULT_LANGUAGE", "en")
    locale = get_locale()
    return locale.language if locale else "en"


def translate(message: object) -> str:
    """A refusal or a notice in the request's language. A Text carries its English template
    and values; a plain string is looked up as it is (an untranslated one stays English)."""
    if message is None:
        return ""
    if isinstance(message, Text):
        translated = gettext(message.template)
        if not message.params:
            return translated
        return translated % {name: translate(value) if isinstance(value, Text) else value
                             for name, value in message.params.items()}
    return gettext(str(message)) if message else ""


# Every refusal by its code, in a few words: what a stored refusal (a timeline, the
# dashboard's exceptions) says in a language other than the English it was stored in.
REFUSALS = {
    "invalid_code": N_("Not a valid code: scan the label again."),
    "code_is_parent": N_("This is a parent code, not a child."),
    "code_is_child": N_("This is a child bag, not a parent."),
    "parent_not_found": N_("No such parent."),
    "bag_not_found": N_("No such bag."),
    "child_in_other_parent": N_("The bag is already in another parent."),
    "parent_full": N_("The parent is full."),
    "parent_complete": N_("The parent is complete."),
    "parent_open": N_("The parent is already open."),
    "under_capacity": N_("The parent is not full yet."),
    "scan_id_reused": N_("The scan's id was used for another bag."),
    "not_linked": N_("The bag is not in any parent."),
    "bag_at_other_site": N_("The bag belongs to another site."),
    "nothing_to_undo": N_("Nothing to undo."),
    "corrected": N_("A supervisor changed this bag after the scan."),
    "not_your_scan": N_("Someone else scanned this bag."),
    "bag_changed": N_("Someone else changed the bag just now."),
    "already_linked": N_("The bag is already in that parent."),
    "has_children": N_("The parent still holds bags."),
    "reason_required": N_("A reason is needed."),
    "invalid_scan_id": N_("The scan's id is not valid."),
    "invalid_scanned_at": N_("The scan's time is not valid."),
    "forbidden": N_("Your role may not do this."),
    "database_busy": N_("The database was busy."),
    # dispatches (DESIGN 8.2)
    "dispatch_not_found": N_("No such dispatch."),
    "dispatch_exists": N_("That dispatch code is taken."),
    "dispatch_not_loading": N_("The dispatch is not loading."),
    "dispatch_not_dispatched": N_("The dispatch has not left."),
    "dispatch_full": N_("The dispatch has all the parents it expects."),
    "dispatch_empty": N_("No parents are loaded."),
    "under_expected": N_("Fewer parents than expected: a reason is needed."),
    "parent_not_complete": N_("The parent is not complete."),
    "parent_on_other_dispatch": N_("The parent is on another dispatch."),
    "parent_not_on_dispatch": N_("The parent is not on this dispatch."),
    "parent_on_dispatch": N_("The parent is on a dispatch."),
}


# Stored words (kinds, statuses, outcomes, results, roles) as a page shows them.
WORDS = {
    "parent": N_("parent"), "child": N_("child"),
    "open": N_("open"), "complete": N_("complete"), "linked": N_("linked"),
    "unlinked": N_("unlinked"), "accepted": N_("accepted"), "rejected": N_("rejected"),
    "parent_created": N_("parent created"), "parent_opened": N_("parent opened"),
    "already_linked": N_("already linked"), "replayed": N_("sent again"),
    "completed": N_("completed"), "auto_completed": N_("completed when full"),
    "reopened": N_("reopened"), "moved_in": N_("moved in"), "moved_out": N_("moved out"),
    "deleted": N_("deleted"), "corrected": N_("corrected"),
    "staff": N_("staff"), "supervisor": N_("supervisor"), "admin": N_("admin"),
    "invalid_code": N_("invalid code"), "code_is_parent": N_("code is a parent"),
    "code_is_child": N_("code is a child"), "parent_not_found": N_("parent not found"),
    "child_in_other_parent": N_("in another parent"), "parent_full": N_("parent full"),
    "parent_complete": N_("parent complete"), "under_capacity": N_("not full"),
    "scan_id_reused": N_("scan id used again"), "not_linked": N_("not in a parent"),
    "nothing_to_undo": N_("nothing to undo"), "not_your_scan": N_("not your scan"),
    "bag_changed": N_("changed meanwhile"),
    # dispatches: statuses, the history's actions and results, refusals (in English the
    # stored word with spaces, as before they were translated)
    "loading": N_("loading"), "dispatched": N_("dispatched"), "cancelled": N_("cancelled"),
    "dispatch_load": N_("dispatch load"), "dispatch_unload": N_("dispatch unload"),
    "dispatch_reopened": N_("dispatch reopened"), "dispatch_cancelled": N_("dispatch cancelled"),
    "loaded": N_("loaded"), "unloaded": N_("unloaded"), "already_loaded": N_("already loaded"),
    "returned": N_("returned"),
    "dispatch_not_found": N_("dispatch not found"),
    "dispatch_not_loading": N_("dispatch not loading"),
    "dispatch_not_dispatched": N_("dispatch not dispatched"),
    "dispatch_full": N_("dispatch full"), "dispatch_empty": N_("dispatch empty"),
    "under_expected": N_("under expected"), "parent_not_complete": N_("parent not complete"),
    "parent_on_other_dispatch": N_("parent on other dispatch"),
    "parent_not_on_dispatch": N_("parent not on dispatch"),
    "parent_on_dispatch": N_("parent on dispatch"),
    # transfers between sites (issue 21)
    "received": N_("received"), "already_received": N_("already received"),
    "not_destination": N_("not coming to this site"), "not_at_origin": N_("not from this site"),
    # background jobs (app/jobs): an import's state in the list of imports
    "queued": N_("queued"), "running": N_("running"), "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    # an import's layout (in the audit trail)
    "table": N_("plain table"), "supplier": N_("supplier sheet"),
}


def word(value: object) -> str:
    """A stored word (`parent_full`) in the request's language."""
    if value is None:
        return ""
    text = str(value)
    return gettext(WORDS[text]) if text in WORDS else text.replace("_", " ")


def refusal_reason(code: str | None, stored: str) -> str:
    """A stored refusal in the request's language: the stored English words themselves in
    English, else the refusal's code in words (the details are on the bag's page)."""
    if page_language() == "en" or code not in REFUSALS:
        return stored
    return gettext(REFUSALS[code])


def number(value: object) -> str:
    """12,34,567 in hi and en-IN, 1,234,567 in en; Latin digits always."""
    if value is None or value == "":
        return ""
    return format_decimal(value, locale=get_locale(), numbering_system="latn")


def format_moment(moment: datetime, seconds: bool = False) -> str:
    """4 Dec 2026, 15:32 in the request's language (Babel's month names)."""
    pattern = "d MMM y, HH:mm:ss" if seconds else "d MMM y, HH:mm"
    return format_datetime(moment, pattern, tzinfo=moment.tzinfo, locale=get_locale() or "en")


# --- the station's and the other scripts' strings -------------------------------------------

def js_strings_json() -> str:
    """The page's scripts get their strings as a JSON data block (<script type=
    "application/json">, not run, so no inline script under the CSP): English -> this language."""
    from app.i18n_js import JS_STRINGS

    if page_language() == "en":  # the English is the key itself: nothing to look up
        return Markup("{}")
    text = json.dumps({source: gettext(source) for source in JS_STRINGS}, ensure_ascii=False)
    # Nothing in it can close the <script> element it sits in.
    safe = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(safe)  # noqa: S704 - JSON with <, > and & escaped: nothing to interpret
