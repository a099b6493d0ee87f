"""How pages show times and refusals (issue 18, items 3 and 6).

One time format everywhere, in APP_TIMEZONE: `{{ moment | when }}` writes
<time datetime="ISO" title="exact, with seconds and zone">4 Dec 2026, 15:32</time>, and
static/js/times.js shows recent ones as "3 min ago" (the exact time on hover, or on a tap).
Stored times stay UTC; a page never shows raw ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import gettext
from markupsafe import Markup, escape

from app.domain import N_
from app.i18n import format_moment, page_language, user_zone_name


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(value: datetime | str | None) -> datetime | None:
    """`value` (an aware datetime, naive UTC, or ISO 8601 text) in the request's zone: the
    user's, else APP_TIMEZONE (app/i18n.py)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_zone(user_zone_name()))


def exact(moment: datetime, seconds: bool = False) -> str:
    """4 Dec 2026, 15:32 (the format static/js/times.js writes too), with the month in the
    request's language."""
    return format_moment(moment, seconds)


def when(value, empty: str = "") -> Markup:
    moment = local(value)
    if moment is None:
        return escape(empty)
    # The zone's abbreviation (IST, UTC) is English; other languages get its offset (+05:30).
    zone = moment.tzname() if page_language() == "en" else moment.isoformat()[-6:]
    title = f"{exact(moment, seconds=True)} ({zone})"
    return Markup('<time datetime="{}" title="{}" data-when>{}</time>').format(
        moment.isoformat(timespec="seconds"), title, exact(moment))


_PATTERN_NOTE = re.compile(r"\s*\((?:pattern|format) \^.*?\$\)")
_REGEX_ONLY = re.compile(r"\^[^\s]*\$")


# What app/scanning/services.py stores as the reason of a parent finished below capacity
# (alone, or before a supervisor's own words): said in the reader's language.
FINISHED_SHORT = N_("finished short")


def plain_reason(reason: str | None) -> str:
    """A refusal in words: the "(pattern ^...$)" note that older messages carried is left
    out; the words before it already say what a code looks like. A short finish's stored
    "finished short" is said in the request's language (what a supervisor typed stays)."""
    if not reason:
        return ""
    text = _REGEX_ONLY.sub("a code of the right form", _PATTERN_NOTE.sub("", reason))
    if text.startswith(FINISHED_SHORT):
        text = gettext(FINISHED_SHORT) + text[len(FINISHED_SHORT):]
    return text


# Every action the audit trail records, in words (the filter is a list, not a name to type).
ACTION_WORDS = {
    "user.create": N_("User created"),
    "user.update": N_("User changed"),
    "user.deactivate": N_("User deactivated"),
    "user.reactivate": N_("User reactivated"),
    "user.password_reset": N_("Password reset by an admin"),
    "user.logout_everywhere": N_("Sessions ended"),
    "account.password_change": N_("Own password changed"),
    "bag.unlink": N_("Bag taken out of its parent"),
    "bag.move": N_("Bag moved to another parent"),
    "bag.complete": N_("Parent completed by a supervisor"),
    "bag.reopen": N_("Parent reopened"),
    "bag.delete": N_("Bag deleted"),
    "import.run": N_("File imported"),
    "label.reserve": N_("Parent codes reserved for labels"),
    "label.download": N_("Labels downloaded"),
    "label.print": N_("Labels sent to the printer"),
    "label.reprint": N_("A bag's label printed"),
}


def register(app: Flask) -> None:
    app.add_template_filter(when, "when")
    app.add_template_filter(plain_reason, "plain_reason")
    app.add_template_global(user_zone_name, "app_timezone")
    app.add_template_global(ACTION_WORDS, "action_words")
