"""/users (admins manage accounts) and /account (everyone's own password). Thin: the rules
live in app/users/services.py; each handler commits once, or rolls back and answers 4xx
with the reason."""

from __future__ import annotations

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required, login_user

from app.ratelimits import user_rate_key
from app.i18n import translate
from app.audit.services import list_audit_events
from app.auth.decorators import role_required
from app.auth.services import AccountError
from app.errors import error_response
from app.extensions import db, limiter
from app.domain import N_, DomainError
from app.sites import services as sites_service
from app.sites.forms import UserSitesForm
from app.users import services
from app.users.forms import (ChangePasswordForm, CreateUserForm, DeactivateForm, EditUserForm,
                             EndSessionsForm, PreferencesForm, ReactivateForm, ResetPasswordForm,
                             ResetTwoFactorForm, UserFilterForm, password_choice_is_clear)

bp = Blueprint("users", __name__)

def _actor():
    return current_user._get_current_object()


def _show_errors(form, error: AccountError) -> None:
    """Put the service's refusal next to the field it is about, or above the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, translate(error.message)]
    else:
        flash(translate(error.message), "danger")


def _validated(form) -> bool:
    """Validate a posted form (errors are lists afterwards, so services may add to them)."""
    return request.method == "POST" and form.validate()


# --- the list and creation --------------------------------------------------------------------

@bp.get("/users")
@role_required("admin")
def show_users():
    filters = UserFilterForm(request.args)
    active = {"yes": True, "no": False}.get(filters.active.data or "")
    users = services.list_users(filters.q.data or "", filters.role.data or "", active)
    return render_template("users/index.html", users=users, filters=filters,
                           filtered=any(request.args.get(name) for name in ("q", "role", "active")))


@bp.route("/users/new", methods=["GET", "POST"])
@role_required("admin")
def new_user():
    form = CreateUserForm()
    if request.method == "POST":
        clear = _validated(form)
        clear = password_choice_is_clear(form) and clear
        if clear:
            try:
                user, generated = services.create_account(
                    _actor(), form.username.data, form.role.data, form.password.data or None,
                    form.display_name.data, generate=form.generate.data)
                db.session.commit()
            except AccountError as error:
                db.session.rollback()
                _show_errors(form, error)
                return render_template("users/new.html", form=form), error.status
            if generated:
                return _show_password_once(user, generated, created=True)
            flash(_("User %(name)s created with the password you typed.", name=user.username),
                  "success")
            return redirect(url_for("users.show_user", username=user.username), 303)
        return render_template("users/new.html", form=form), 422
    return render_template("users/new.html", form=form)


def _show_password_once(user, password: str, *, created: bool):
    """The generated password goes into this one response only: never into the session
    (a flash message would ride in the cookie), the log or the audit trail."""
    return render_template("users/password_once.html", user=user, password=password,
                           created=created), 201 if created else 200


# --- one user ------------------------------------------------------------------------------------

def _page_forms(user, **given):
    forms = {
        "edit_form": EditUserForm(prefix="edit", formdata=None,
                                  data={"display_name": user.display_name, "role": user.role}),
        "reset_form": ResetPasswordForm(prefix="reset", formdata=None),
        "deactivate_form": DeactivateForm(prefix="deactivate", formdata=None),
        "reactivate_form": ReactivateForm(prefix="reactivate", formdata=None),
        "sessions_form": EndSessionsForm(prefix="sessions", formdata=None),
        "two_factor_form": ResetTwoFactorForm(prefix="twofactor", formdata=None),
        "sites_form": _sites_form(user, formdata=None),
    }
    forms.update(given)
    return forms


def _sites_form(user, **kwargs) -> UserSitesForm:
    form = UserSitesForm(prefix="sites", data={"sites": user.site_codes()}, **kwargs)
    form.sites.choices = [(site.code, f"{site.code} · {site.name}")
                          for site in sites_service.list_sites()]
    return form


def _render_user(user, status: int = 200, error: str | None = None, **given):
    recent = list_audit_events(target_type="user", target=user.username, limit=10).events
    return render_template("users/show.html", user=user, error=error, recent=recent,
                           is_self=user.id == current_user.id,
                           **_page_forms(user, **given)), status


def _load(username: str):
    try:
        return services.get_user(username)
    except AccountError as error:
        abort(error_response(404, error.code, error.message))


@bp.get("/users/<username>")
@role_required("admin")
def show_user(username):
    user = _load(username)
    return _render_user(user)


@bp.post("/users/<username>")
@role_required("admin")
def edit_user(username):
    user = _load(username)
    form = EditUserForm(prefix="edit")
    if not form.validate():
        return _render_user(user, 422, edit_form=form)
    try:
        services.update_user(_actor(), user, {"display_name": form.display_name.data,
                                              "role": form.role.data})
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        _show_field_error(form, error)
        return _render_user(user, error.status, error=translate(error.message), edit_form=form)
    flash(_("Saved %(name)s.", name=user.username), "success")
    return redirect(url_for("users.show_user", username=user.username), 303)


@bp.post("/users/<username>/sites")
@role_required("admin")
def set_user_sites(username):
    """The sites a user works in (issue 21): a change ends their sessions."""
    user = _load(username)
    form = _sites_form(user)
    if not form.validate():
        return _render_user(user, 400, error=_("The form could not be read. Try again."),
                            sites_form=form)
    try:
        services.update_user(_actor(), user, {"sites": form.sites.data or []})
        db.session.commit()
    except (AccountError, DomainError) as error:
        db.session.rollback()
        form.sites.errors = [translate(error.message)]
        return _render_user(user, error.status, sites_form=form)
    if user.id == current_user.id:
        login_user(user)  # the session version moved on: keep this session
    flash(_("Saved the sites of %(name)s.", name=user.username), "success")
    return redirect(url_for("users.show_user", username=user.username), 303)


def _show_field_error(form, error: AccountError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, translate(error.message)]


@bp.post("/users/<username>/password")
@role_required("admin")
def reset_password(username):
    user = _load(username)
    form = ResetPasswordForm(prefix="reset")
    clear = form.validate()
    clear = password_choice_is_clear(form) and clear
    if not clear:
        return _render_user(user, 422, reset_form=form)
    try:
        generated = services.reset_password(_actor(), user, form.password.data or None,
                                            generate=form.generate.data)
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        _show_field_error(form, error)
        return _render_user(user, error.status, error=translate(error.message), reset_form=form)
    if generated:
        return _show_password_once(user, generated, created=False)
    flash(_("Password of %(name)s reset; their sessions have ended.", name=user.username),
          "success")
    return redirect(url_for("users.show_user", username=user.username), 303)


def _button(form_class, prefix: str, change, done: str):
    """The view of a bare-button change: validate the form, make the change, commit, and go
    back to the user's page; a refusal is shown on that page."""

    @role_required("admin")
    def view(username):
        user = _load(username)
        if not form_class(prefix=prefix).validate():
            return _render_user(user, 400, error=_("The form could not be read. Try again."))
        try:
            change(user)
            db.session.commit()
        except AccountError as error:
            db.session.rollback()
            return _render_user(user, error.status, error=translate(error.message))
        if user.id == current_user.id:
            login_user(user)  # the session version moved on: keep this session, end the others
        flash(_(done, name=user.username), "success")
        return redirect(url_for("users.show_user", username=user.username), 303)

    return view


# The bare-button changes: the end of the URL -> the endpoint, the form (its prefix on the
# page), the change, and the flash once it is done.
BUTTONS = {
    "deactivate": ("deactivate_user", DeactivateForm, "deactivate",
                   lambda user: services.update_user(_actor(), user, {"is_active": False}),
                   N_("%(name)s is deactivated and logged out everywhere.")),
    "reactivate": ("reactivate_user", ReactivateForm, "reactivate",
                   lambda user: services.update_user(_actor(), user, {"is_active": True}),
                   N_("%(name)s is active again and can log in.")),
    "two-factor/reset": ("reset_user_two_factor", ResetTwoFactorForm, "twofactor",
                         lambda user: services.reset_two_factor(_actor(), user),
                         N_("The second factor of %(name)s is removed and their sessions have "
                            "ended; they set up a new one at their next login.")),
    "logout-everywhere": ("end_user_sessions", EndSessionsForm, "sessions",
                          lambda user: services.log_out_everywhere(_actor(), user),
                          N_("Every session of %(name)s has ended.")),
}
for path, (endpoint, form_class, prefix, change, done) in BUTTONS.items():
    bp.add_url_rule(f"/users/<username>/{path}", endpoint,
                    _button(form_class, prefix, change, done), methods=["POST"])


# --- one's own account ------------------------------------------------------------------------

def _failed(response) -> bool:
    return response.status_code != 303


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["LOGIN_USERNAME_RATE_LIMIT"], methods=["POST"],
               key_func=user_rate_key, scope="account-password", deduct_when=_failed)
def show_account():
    """Change one's own password. Guessing the current one here is throttled like login."""
    form = ChangePasswordForm()
    if request.method == "POST":
        if not form.validate():
            return _render_account(form, 422)
        user = _actor()
        try:
            services.change_own_password(user, form.current_password.data,
                                         form.new_password.data)
            db.session.commit()
        except AccountError as error:
            db.session.rollback()
            _show_errors(form, error)
            return _render_account(form, error.status)
        login_user(user)  # this session carries the new version; every other one has ended
        flash(_("Your password is changed. Your other sessions have ended."), "success")
        return redirect(url_for("users.show_account"), 303)
    return _render_account(form)


def _render_account(form, status: int = 200, preferences=None):
    user = _actor()
    preferences = preferences or PreferencesForm(
        formdata=None, language=user.language or "", timezone=user.timezone or "")
    return render_template("users/account.html", form=form, preferences=preferences), status


@bp.post("/account/preferences")
@login_required
def save_preferences():
    """One's own language and time zone."""
    form = PreferencesForm()
    if not form.validate():
        return _render_account(ChangePasswordForm(formdata=None), 422, form)
    try:
        services.set_preferences(_actor(), {"language": form.language.data,
                                            "timezone": form.timezone.data})
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        _show_errors(form, error)
        return _render_account(ChangePasswordForm(formdata=None), error.status, form)
    refresh()  # the notice below in the language just chosen
    flash(_("Saved: your language and time zone."), "success")
    return redirect(url_for("users.show_account"), 303)
