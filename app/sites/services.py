"""Sites (issue 21, DESIGN.md 8.5, 8.7): creating and changing sites (admins), the sites a
user belongs to, and the current site of a session. Services never commit; a refusal is a
DomainError (404 site_not_found, 409 site_exists, 422 invalid_input with `field`).

Admins belong to every site by their role; other users through user_sites. A change of a
user's sites ends their sessions (the session version rule): a session never keeps working
in a site its user has left, without a query per request to check it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from flask import current_app, session
from sqlalchemy import delete, insert, select

from app.audit.services import record_audit
from app.domain import DomainError, Text
from app.extensions import db
from app.i18n import is_timezone
from app.models import Site, User, UserSite
from app.models.site import SITE_CODE_PATTERN, default_site_id
from app.site_scope import current_site_id, set_current_site

CODE = re.compile(SITE_CODE_PATTERN, re.ASCII)
NAME_MAX = 120
SITE_FIELDS = ("code", "name", "timezone")
SESSION_KEY = "site_id"
ZONE_KEY = "site_timezone"  # kept with the site: times are shown in it (app/i18n.py)
SITE_CREATE, SITE_UPDATE, USER_SITES = "site.create", "site.update", "user.sites"


def site_not_found(code: object) -> DomainError:
    shown = code[:40] if isinstance(code, str) else "?"
    return DomainError("site_not_found", Text("There is no site %(code)s. Check the site's "
                                              "code.", code=shown), 404)


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("invalid_input", message, 422, field=field)


# --- reading ---------------------------------------------------------------------------------

def list_sites() -> list[Site]:
    return list(db.session.scalars(select(Site).order_by(Site.code)))


def find_site(code: object) -> Site | None:
    if not isinstance(code, str):
        return None
    return db.session.scalar(select(Site).where(Site.code == code.strip().upper()))


def get_site(code: object) -> Site:
    site = find_site(code)
    if site is None:
        raise site_not_found(code)
    return site


def site_by_id(site_id: int | None) -> Site | None:
    return db.session.get(Site, site_id) if site_id is not None else None


def sites_of(user: User) -> list[Site]:
    """The sites a user works in, by code: every site for an admin."""
    if user.role == "admin":
        return list_sites()
    return list(db.session.scalars(
        select(Site).join(UserSite, UserSite.site_id == Site.id)
        .where(UserSite.user_id == user.id).order_by(Site.code)))


def site_codes_of(user: User) -> list[str]:
    return [site.code for site in sites_of(user)]


def belongs(user: User, site: Site) -> bool:
    if user.role == "admin":
        return True
    return db.session.scalar(select(UserSite.site_id).where(
        UserSite.user_id == user.id, UserSite.site_id == site.id)) is not None


def default_site_for(user: User) -> Site | None:
    """Where a session starts: the default site when the user works there, else their first."""
    sites = sites_of(user)
    for site in sites:
        if site.code == current_app.config["DEFAULT_SITE_CODE"]:
            return site
    return sites[0] if sites else None


def member_ids(site_id: int):
    """The users who work in a site (a condition on User.id): its admins and members."""
    return select(UserSite.user_id).where(UserSite.site_id == site_id)


# --- creating and changing sites (admins) -------------------------------------------------------

def _code(raw: object) -> str:
    code = raw.strip().upper() if isinstance(raw, str) else ""
    if not CODE.match(code):
        raise _invalid("code", Text("The site code must be 2 to 16 capital letters, digits, "
                                    "- or _ (like MAIN or PUNE-2)."))
    return code


def _name(raw: object) -> str:
    name = " ".join(raw.split()) if isinstance(raw, str) else ""
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise _invalid("name", Text("Give the site a name of 1 to %(count)s characters.",
                                    count=NAME_MAX))
    return name


def _timezone(raw: object) -> str:
    if not is_timezone(raw):
        raise _invalid("timezone", Text("The time zone must be a name such as Asia/Kolkata "
                                        "or America/Sao_Paulo."))
    return raw


def _refuse_unknown(fields: Mapping, allowed: Iterable[str]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise DomainError("unknown_field", Text("Unknown field %(fields)s; use only "
                                                "%(allowed)s.", fields=", ".join(unknown),
                                                allowed=", ".join(allowed)), 422,
                          field=unknown[0])


def create_site(actor: User, fields: Mapping) -> Site:
    _refuse_unknown(fields, SITE_FIELDS)
    code = _code(fields.get("code"))
    site = Site(code=code, name=_name(fields.get("name")),
                timezone=_timezone(fields.get("timezone")))
    if find_site(code) is not None:
        raise DomainError("site_exists", Text("There is already a site %(code)s. Choose "
                                              "another code.", code=code), 409, field="code")
    db.session.add(site)
    db.session.flush()
    record_audit(actor, SITE_CREATE, "site", code, None, site.to_dict())
    return site


def update_site(actor: User, site: Site, fields: Mapping) -> Site:
    """A site's name and time zone; its code never changes (labels and bills carry it)."""
    _refuse_unknown(fields, ("name", "timezone"))
    if not fields:
        raise DomainError("no_changes", Text("Send the name or the time zone."), 422)
    before = site.to_dict()
    if "name" in fields:
        site.name = _name(fields["name"])
    if "timezone" in fields:
        site.timezone = _timezone(fields["timezone"])
    after = site.to_dict()
    changed = {key: after[key] for key in after if after[key] != before[key]}
    if changed:
        record_audit(actor, SITE_UPDATE, "site", site.code,
                     {key: before[key] for key in changed}, changed)
    return site


# --- users' sites ------------------------------------------------------------------------------

def check_site_codes(raw: object) -> list[Site]:
    """A list of site codes (at least one), as the users API and page send them."""
    if not isinstance(raw, list) or not raw or not all(isinstance(code, str) for code in raw):
        raise _invalid("sites", Text("sites must be a list of one or more site codes."))
    sites = []
    for code in dict.fromkeys(code.strip().upper() for code in raw):
        site = find_site(code)
        if site is None:
            raise _invalid("sites", Text("There is no site %(code)s. Check the site's code.",
                                         code=code[:40]))
        sites.append(site)
    return sites


def set_user_sites(actor: User | None, target: User, sites: list[Site]) -> bool:
    """Make `target` a member of exactly these sites. Answers whether anything changed; a
    change ends the target's sessions (they log in again into a site they belong to)."""
    wanted = {site.id for site in sites}
    have = set(db.session.scalars(select(UserSite.site_id).where(UserSite.user_id == target.id)))
    if wanted == have:
        return False
    if target.id is None:
        db.session.flush()
    db.session.execute(delete(UserSite).where(UserSite.user_id == target.id,
                                              UserSite.site_id.not_in(wanted)))
    added = wanted - have
    if added:
        db.session.execute(insert(UserSite), [{"user_id": target.id, "site_id": site_id}
                                              for site_id in sorted(added)])
    if have:  # a new user has no sessions to end
        target.end_all_sessions()
        codes = {site.id: site.code for site in list_sites()}
        record_audit(actor, USER_SITES, "user", target.username,
                     {"sites": sorted(codes[i] for i in have)},
                     {"sites": sorted(codes[i] for i in wanted)})
    return True


def join_sites(new_user: User, sites: list[Site] | None = None) -> None:
    """A new user's sites (before it is flushed): these, else the current site, else the
    default site. Written with the user, in the same flush."""
    with db.session.no_autoflush:
        site_ids = ([site.id for site in sites] if sites
                    else [current_site_id() or default_site_id()])
    new_user.memberships = [UserSite(site_id=site_id) for site_id in dict.fromkeys(site_ids)]


# --- the current site of a session -------------------------------------------------------------

def start_session_site(user: User) -> Site | None:
    """At login: the session works in the user's default site (None: the user has none)."""
    site = default_site_for(user)
    if site is not None:
        enter_site(site)
    else:
        session.pop(SESSION_KEY, None)
    return site


def enter_site(site: Site) -> None:
    session[SESSION_KEY] = site.id
    session[ZONE_KEY] = site.timezone
    set_current_site(site.id, site.timezone)


def switch_site(user: User, raw_code: object, token=None) -> Site:
    """Work in another of the user's sites from now on. A site the user does not belong to
    answers as one that does not exist. A bearer request (`token`) has no session to switch:
    it is judged by the token alone, the site checked as its X-Site header would be, and
    nothing written (never the session of a cookie sent along, which may be another user's)."""
    if token is not None:
        return token_site(token, user, raw_code if isinstance(raw_code, str) and raw_code
                          else "?")
    site = find_site(raw_code)
    if site is None or not belongs(user, site):
        raise site_not_found(raw_code)
    enter_site(site)
    return site


def session_site_id() -> int | None:
    value = session.get(SESSION_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def session_site_timezone() -> str | None:
    value = session.get(ZONE_KEY)
    return value if isinstance(value, str) else None


def current_site() -> Site | None:
    return site_by_id(current_site_id())


# --- the site of an API token's request -----------------------------------------------------------

SITE_HEADER = "X-Site"


def token_site(token, user: User, asked: str | None) -> Site:
    """The site a bearer request works in (issue 21): the one its X-Site header names, else
    the user's default site, among the sites the token is limited to that its user works in
    today (a user taken out of a site takes the token out with them). 403 site_not_allowed
    otherwise."""
    allowed = sites_of(user)
    if token.sites:
        limit = set(token.sites.split())
        allowed = [site for site in allowed if site.code in limit]
    if not allowed:
        raise DomainError("site_not_allowed", Text(
            "This token may work in none of its user's sites now. Make a new token."), 403)
    if asked:
        wanted = asked.strip().upper()
        for site in allowed:
            if site.code == wanted:
                return site
        raise DomainError("site_not_allowed", Text(
            "This token may not work in the site %(code)s: it may work in %(allowed)s.",
            code=wanted[:16], allowed=", ".join(site.code for site in allowed)), 403,
            allowed=[site.code for site in allowed])
    for site in allowed:
        if site.code == current_app.config["DEFAULT_SITE_CODE"]:
            return site
    return allowed[0]
