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
from app.i18n import WORDS, format_moment, number, page_language, user_zone_name


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
    "user.two_factor_reset": N_("Second factor removed by an admin"),
    "account.two_factor_enrol": N_("Second factor set up"),
    "user.sites": N_("User's sites changed"),
    "site.create": N_("Site created"),
    "site.update": N_("Site changed"),
    "token.create": N_("API token created"),
    "token.revoke": N_("API token revoked"),
}

# What an audit event is about, and the keys of its before and after, in words: the stored
# keys stay English (the API and the exports show them as they are).
AUDIT_TARGETS = {
    "user": N_("user"), "bag": N_("bag"), "import": N_("import"), "site": N_("site"),
    "label_series": N_("label series"), "api_token": N_("token"),
}
AUDIT_FIELDS = {
    "username": N_("username"), "display_name": N_("name"), "role": N_("role"),
    "is_active": N_("active"), "sessions_ended": N_("sessions ended"),
    "session_version": N_("session number"), "two_factor": N_("second factor"),
    "sites": N_("sites"), "language": N_("language"), "timezone": N_("time zone"),
    "code": N_("code"), "name": N_("name"), "kind": N_("kind"), "status": N_("status"),
    "parent": N_("parent"), "capacity": N_("capacity"), "child_count": N_("bags"),
    "reason": N_("reason"), "deleted": N_("deleted"), "scopes": N_("scopes"),
    "expires_at": N_("expires"), "revoked_at": N_("revoked"), "prefix": N_("prefix"),
    "count": N_("count"), "first": N_("first"), "last": N_("last"), "format": N_("format"),
    "layout": N_("layout"), "skip": N_("labels skipped"), "labels": N_("labels"),
    "dpi": N_("dpi"), "printer": N_("printer"), "file": N_("file"), "sha256": "SHA-256",
    "size": N_("size in bytes"), "job": N_("job"), "rows": N_("rows read"),
    "parents_created": N_("parents created"), "parents_existing": N_("parents already there"),
    "children_created": N_("children created"), "children_linked": N_("links made"),
    "already_linked": N_("already linked"), "parents_completed": N_("parents completed"),
    "rejected": N_("rows refused"),
}


def audit_target(target_type: str, target: str) -> tuple[str, str]:
    """An event's target: its kind in the reader's language, and its name or code (an
    import's stored target is "import 12": the number alone follows its kind)."""
    kind = gettext(AUDIT_TARGETS[target_type]) if target_type in AUDIT_TARGETS else target_type
    if target_type == "import" and target.startswith("import "):
        target = target[len("import "):]
    return kind, target


def audit_field(key: str) -> str:
    return gettext(AUDIT_FIELDS[key]) if key in AUDIT_FIELDS else key.replace("_", " ")


def audit_value(value: object) -> str | Markup:
    """A value of an audit event's before or after, as a reader says it: yes and no, stored
    words (roles, statuses) in the reader's language, numbers grouped, lists joined, times
    as every page writes them; names and codes as they are."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, list | tuple):
        return ", ".join(audit_value(item) for item in value) or "–"
    text = str(value)
    if text in WORDS:
        return gettext(WORDS[text])
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+(?:[+-]\d{2}:\d{2}|Z)?", text):
        return when(text)
    return text


def register(app: Flask) -> None:
    app.add_template_filter(when, "when")
    app.add_template_filter(plain_reason, "plain_reason")
    app.add_template_global(user_zone_name, "app_timezone")
    app.add_template_global(ACTION_WORDS, "action_words")
    app.add_template_filter(audit_field, "audit_field")
    app.add_template_filter(audit_value, "audit_value")
    app.add_template_global(audit_target, "audit_target")
