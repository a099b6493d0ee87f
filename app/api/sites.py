"""Sites over JSON (DESIGN 8.5, 8.7; issue 21): admins list, create and change sites; every
user switches the session's site among their own. The same services as the /sites pages."""

from flask import g, url_for
from flask_login import current_user, login_required

from app.api import bp
from app.api import schemas as s
from app.api.contract import body, operation
from app.api.helpers import json_response
from app.auth.decorators import role_required
from app.sites import services
from app.unit_of_work import run

SITE_EXAMPLE = {"code": "PUNE", "name": "Pune depot", "timezone": "Asia/Kolkata"}


def _sent() -> dict:
    return body().model_dump(exclude_unset=True)


@bp.get("/sites")
@role_required("admin")
@operation(role="admin", answers={200: s.SiteList}, errors=("forbidden",), tags=("sites",),
           examples={200: {"items": [SITE_EXAMPLE]}})
def list_sites():
    """Every site, by code."""
    return json_response({"items": [site.to_dict() for site in services.list_sites()]})


@bp.post("/sites")
@role_required("admin")
@operation(role="admin", body=s.NewSite, answers={201: s.Site}, tags=("sites",),
           errors=("forbidden", "invalid_input", "site_exists"),
           examples={"request": SITE_EXAMPLE, 201: SITE_EXAMPLE})
def create_site():
    """Create a site (admin): 201 with Location."""
    site = run(services.create_site, current_user._get_current_object(), _sent())
    response = json_response(site.to_dict(), 201)
    response.headers["Location"] = url_for("api.update_site", code=site.code)
    return response


@bp.patch("/sites/<code>")
@role_required("admin")
@operation(role="admin", body=s.SiteChange, answers={200: s.Site}, tags=("sites",),
           errors=("forbidden", "site_not_found", "invalid_input", "no_changes"),
           examples={"request": {"timezone": "Asia/Kolkata"}, 200: SITE_EXAMPLE})
def update_site(code):
    """Change a site's name or time zone (its code never changes)."""
    site = run(lambda: services.update_site(current_user._get_current_object(),
                                            services.get_site(code), _sent()))
    return json_response(site.to_dict())


@bp.post("/session/site")
@login_required
@operation(role="staff", body=s.SiteSwitch, answers={200: s.SiteSwitchAnswer},
           errors=("site_not_found",), tags=("session",),
           examples={"request": {"site": "PUNE"},
                     200: {"result": "switched", "site": SITE_EXAMPLE}})
def switch_session_site():
    """Work in another of your sites from now on (this session): its bags, dispatches,
    figures. A site you do not work in answers 404 site_not_found, as an unknown one. With a
    token there is no session: it names a site the token may work in (403 site_not_allowed
    otherwise) and changes nothing; send X-Site with each request instead."""
    site = services.switch_site(current_user, body().site, g.get("api_token"))
    return json_response({"result": "switched", "site": site.to_dict()})
