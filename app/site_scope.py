"""The current site of this request or job (issue 21, DESIGN.md 8.5): one value that the one
scoping hook (app/models/scoping.py) and the hot path's Core statements (app/scanning/store.py
`site_param`) read. A page or cookie-session API request gets it from the session (chosen at
login, switched from the navigation: app/sites/), a bearer token request from the token
(app/api/bearer.py), a job from its row (app/jobs/runner.py). Outside all of these (the CLI,
tests calling services directly) there is none, and nothing is scoped.

Plain Flask `g`: no database work here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g, has_app_context

# An execution option: this ORM statement reads every site's rows (a visible object's own
# history, the site list itself). Used by name in the few places that need it.
ALL_SITES = "all_sites"
_KEY = "site_id"
_ZONE = "site_timezone"


def current_site_id() -> int | None:
    if not has_app_context():
        return None
    return g.get(_KEY)


def set_current_site(site_id: int | None, timezone: str | None = None) -> None:
    g.pop(_ZONE, None)
    if site_id is None:
        g.pop(_KEY, None)
    else:
        setattr(g, _KEY, site_id)
        if timezone:
            setattr(g, _ZONE, timezone)


def current_site_timezone() -> str | None:
    """The current site's time zone as the session keeps it (times are shown in it when the
    user has no zone of their own: app/i18n.py); None outside a site."""
    if not has_app_context():
        return None
    return g.get(_ZONE)


@contextmanager
def using_site(site_id: int | None) -> Iterator[None]:
    """Work in `site_id` for a while (a job of that site, a test), then as before."""
    missing = object()
    previous = g.get(_KEY, missing)
    set_current_site(site_id)
    try:
        yield
    finally:
        if previous is missing:
            g.pop(_KEY, None)
        else:
            setattr(g, _KEY, previous)
