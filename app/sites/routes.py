"""Sites pages (issue 21): /sites for admins (the list, a new site, a site's name and time
zone), the choice of site after login, and the switch in the navigation. The current site
of every request is taken from the session here, before any view runs."""

from __future__ import annotations

from flask import (Blueprint, abort, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.decorators import role_required
from app.domain import DomainError
from app.errors import error_response
from app.extensions import db
from app.i18n import translate
from app.security import is_safe_redirect_url
from app.site_scope import set_current_site
from app.sites import services
from app.sites.forms import EditSiteForm, SiteForm, SwitchSiteForm

bp = Blueprint("sites", __name__)


@bp.before_app_request
def take_current_site():
    """The session's site is the request's site: no query (a change of a user's sites ends
    their sessions). A session from before sites existed gets the user's default site."""
    set_current_site(None)
    if request.endpoint == "static" or "_user_id" not in session:
        return None
    site_id = services.session_site_id()
    if site_id is not None:
        set_current_site(site_id, services.session_site_timezone())
    elif current_user.is_authenticated:
        services.start_session_site(current_user)
    return None


@bp.teardown_app_request
def forget_current_site(_error=None):
    set_current_site(None)


@bp.app_context_processor
def site_globals():
    def my_sites():
        return services.sites_of(current_user) if current_user.is_authenticated else []

    return {"current_site": services.current_site, "my_sites": my_sites}


def _next_url() -> str:
    target = request.values.get("next") or ""
    return target if is_safe_redirect_url(target) else url_for("auth.index")


# --- choosing and switching ----------------------------------------------------------------------

@bp.get("/site")
@login_required
def choose_site():
    """After login, for a user of several sites: where do you work now?"""
    return render_template("sites/choose.html", sites=services.sites_of(current_user),
                           form=SwitchSiteForm(formdata=None, data={"next": _next_url()}))


@bp.post("/site")
@login_required
def switch_site():
    form = SwitchSiteForm()
    if not form.validate():
        abort(400)
    try:
        site = services.switch_site(current_user, form.site.data)
    except DomainError as error:
        return error_response(error.status, error.code, translate(error.message))
    flash(_("You now work in %(site)s.", site=site.code + " · " + site.name), "info")
    return redirect(_next_url(), 303)


# --- admins: the sites -----------------------------------------------------------------------------

def _render_sites(form: SiteForm, status: int = 200):
    return render_template("sites/index.html", sites=services.list_sites(), form=form), status


@bp.route("/sites", methods=["GET", "POST"])
@role_required("admin")
def show_sites():
    form = SiteForm()
    if request.method == "GET":
        return _render_sites(SiteForm(formdata=None))
    if not form.validate():
        return _render_sites(form, 422)
    try:
        site = services.create_site(current_user, {"code": form.code.data, "name": form.name.data,
                                                   "timezone": form.timezone.data})
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        _field_error(form, error)
        return _render_sites(form, error.status)
    flash(_("Site %(code)s created.", code=site.code), "success")
    return redirect(url_for("sites.show_sites"), 303)


def _field_error(form, error: DomainError) -> None:
    field = getattr(form, error.details.get("field") or "", None)
    message = translate(error.message)
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        flash(message, "danger")


def _load(code: str):
    try:
        return services.get_site(code)
    except DomainError as error:
        abort(error_response(error.status, error.code, translate(error.message)))


@bp.route("/sites/<code>", methods=["GET", "POST"])
@role_required("admin")
def edit_site(code):
    site = _load(code)
    form = EditSiteForm()
    if request.method == "GET":
        form = EditSiteForm(formdata=None, data={"name": site.name, "timezone": site.timezone})
        return render_template("sites/show.html", site=site, form=form)
    if form.validate():
        try:
            services.update_site(current_user, site, {"name": form.name.data,
                                                      "timezone": form.timezone.data})
            db.session.commit()
            flash(_("Saved %(code)s.", code=site.code), "success")
            return redirect(url_for("sites.edit_site", code=site.code), 303)
        except DomainError as error:
            db.session.rollback()
            _field_error(form, error)
            site = _load(code)
    return render_template("sites/show.html", site=site, form=form), 422
