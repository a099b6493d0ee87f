import time

from flask import (Blueprint, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from flask_limiter.util import get_remote_address
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.domain import N_
from app.auth import services
from app.audit.services import record_audit
from app.auth import two_factor
from app.auth.forms import EmptyForm, EnrolForm, LoginForm, SecondFactorForm
from app.errors import error_response
from app.extensions import db, limiter
from app.observability import security_event
from app.ratelimits import login_username_key
from app.security import is_safe_redirect_url
from app.sites import services as sites

bp = Blueprint("auth", __name__)

LOGIN_FAILED = N_("Wrong username or password, or the account is not active. Try again.")


def rotate_csrf_token() -> None:
    """A new CSRF token at login: one issued to the anonymous page (which an attacker may
    have planted or read) is refused from now on (issue 17, finding 7)."""
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)


def _attempt_counted() -> bool:
    """Logins fail closed. With RATELIMIT_SWALLOW_ERRORS the limiter lets a request through
    when its store (Redis) does not answer, so that scanning goes on; it then has evaluated
    no limit for the request. A login attempt that nothing counted could be one of unlimited
    password guesses, so it is refused (tests/test_faults.py, docs/SECURITY.md)."""
    return not limiter.enabled or bool(limiter.current_limits)


def _start_page() -> str:
    if current_user.is_authenticated and current_user.has_role("supervisor"):
        return url_for("dashboard.show_dashboard")
    return url_for("scanning.show_station")


@bp.route("/")
@login_required
def index():
    return redirect(_start_page())


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               key_func=get_remote_address, scope="login-ip")
@limiter.limit(lambda: current_app.config["LOGIN_USERNAME_RATE_LIMIT"], methods=["POST"],
               key_func=login_username_key, scope="login-user")
def login():
    if request.method == "POST" and not _attempt_counted():
        security_event("login_refused", reason="rate_limit_store_unavailable")
        return error_response(
            503, "login_unavailable",
            "Logging in is paused: the server cannot count login attempts right now. Wait a "
            "minute and try again; if it goes on, tell an admin (the rate-limit store, Redis, "
            "does not answer).", headers={"Retry-After": "15"})
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated:
            return redirect(_start_page())
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        db.session.commit()
        if user is not None:
            target = form.next.data if is_safe_redirect_url(form.next.data) else ""
            if user.has_two_factor or two_factor.required_for(
                    user, current_app.config["REQUIRE_2FA_ROLES"]):
                # The password is right; the session starts only after the second factor
                # (or, for a role that must have one, after enrolling it).
                session["2fa_pending"] = {"user": user.get_id(), "next": target,
                                          "until": time.time() + two_factor.PENDING_SECONDS}
                security_event("login_password_ok", username=user.username)
                return redirect(url_for("auth.second_factor" if user.has_two_factor
                                        else "auth.enrol_second_factor"))
            return _complete_login(user, target)
        security_event("login_failed", username=services.normalise_username(form.username.data)[:64])
        flash(_(LOGIN_FAILED), "danger")
    return render_template("auth/login.html", form=form)


def _complete_login(user, target: str, second_factor: str | None = None):
    """Start the session: a new CSRF token, and (after a second factor) the mark that this
    session passed it (enforce_second_factor checks it on every request)."""
    session.pop("2fa_pending", None)
    login_user(user)
    rotate_csrf_token()
    site = sites.start_session_site(user)
    if second_factor:
        session["2fa_user"] = user.id
    else:
        session.pop("2fa_user", None)
    security_event("login", username=user.username, **(
        {"second_factor": second_factor} if second_factor else {}))
    if site is None:  # a user who works in no site (an admin took them out of every one)
        logout_user()
        flash(_("You work in no site. Ask an admin to add you to one."), "warning")
        return redirect(url_for("auth.login"))
    if len(sites.sites_of(user)) > 1:  # several sites: choose one on the next page
        return redirect(url_for("sites.choose_site", next=target or _start_page()))
    return redirect(target or _start_page())


def _pending():
    """The user whose password was right and whose second factor is still to come, and the
    pending state; (None, None) when there is none or it has expired."""
    from app.auth.sessions import load_user

    pending = session.get("2fa_pending")
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), str) \
            or float(pending.get("until") or 0) < time.time():
        session.pop("2fa_pending", None)
        return None, None
    user = load_user(pending["user"])
    if user is None:
        session.pop("2fa_pending", None)
        return None, None
    return user, pending


def _pending_key() -> str:
    pending = session.get("2fa_pending")
    user = pending.get("user") if isinstance(pending, dict) else None
    return "second-factor:" + (user.split(":")[0] if isinstance(user, str) else "none")


def _start_again():
    if current_user.is_authenticated:  # nothing pending: already logged in
        return redirect(_start_page())
    flash(_("Log in again: the two-factor step was not finished within 5 minutes."), "warning")
    return redirect(url_for("auth.login"))


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_USERNAME_RATE_LIMIT"], methods=["POST"],
               key_func=_pending_key, scope="login-second-factor")
def second_factor():
    user, pending = _pending()
    if user is None or not user.has_two_factor:
        return _start_again()
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        used = two_factor.verify_second_factor(user, form.code.data)
        if used is not None:
            db.session.commit()
            if used == "recovery_code":
                left = two_factor.remaining_recovery_codes(user)
                flash(_("You logged in with a recovery code; it cannot be used again. "
                        "%(left)s are left: ask an admin to reset your second factor when "
                        "they run low.", left=left), "warning")
            return _complete_login(user, pending.get("next") or "", used)
        db.session.rollback()
        security_event("login_failed", username=user.username, reason="second_factor")
        form.code.errors.append(_("That code is not right, or was used already. Type the "
                                  "code the app shows now, or one of your recovery codes."))
        status = 422
    return render_template("auth/two_factor.html", form=form, user=user), status


@bp.route("/login/two-factor/setup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_USERNAME_RATE_LIMIT"], methods=["POST"],
               key_func=_pending_key, scope="login-second-factor")
def enrol_second_factor():
    user, pending = _pending()
    if user is None or user.has_two_factor:
        return _start_again()
    secret = pending.get("secret")
    if not isinstance(secret, str):
        secret = pending["secret"] = two_factor.new_secret()
        session["2fa_pending"] = pending
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        codes = two_factor.enrol(user, secret, form.code.data)
        if codes is not None:
            record_audit(user, "account.two_factor_enrol", "user", user.username, None,
                         {"two_factor": True})
            db.session.commit()
            target = pending.get("next") or ""
            _complete_login(user, target, "totp")
            return render_template("auth/recovery_codes.html", codes=codes,
                                   next_url=target or _start_page())
        form.code.errors.append(_("That code is not right. Check that the app shows TraceTrack "
                                  "(%(name)s) and type the code it shows now.",
                                  name=user.username))
        status = 422
    uri = two_factor.provisioning_uri(user, secret)
    return render_template("auth/two_factor_setup.html", form=form, user=user,
                           qr=two_factor.qr_data_uri(uri),
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                           required=two_factor.required_for(
                               user, current_app.config["REQUIRE_2FA_ROLES"])), status


@bp.before_app_request
def enforce_second_factor():
    """A session of a user who must use a second factor (their role is in REQUIRE_2FA_ROLES,
    or they enrolled) is valid only if it passed one: a session started before (by an older
    version, or before the role changed) ends here and the user logs in again."""
    if request.endpoint == "static" or "_user_id" not in session:
        return None
    if not current_user.is_authenticated:
        return None
    if not (current_user.has_two_factor or two_factor.required_for(
            current_user, current_app.config["REQUIRE_2FA_ROLES"])):
        return None
    if session.get("2fa_user") != current_user.id:
        security_event("session_refused", reason="second_factor_missing")
        logout_user()
    return None


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        # Cookie sessions have no server-side record: ending the version is what makes a
        # copied cookie useless after logout. It ends this user's other sessions too.
        security_event("logout")
        services.end_sessions(current_user)
        db.session.commit()
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))
