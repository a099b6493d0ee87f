from flask import (Blueprint, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import services
from app.auth.forms import EmptyForm, LoginForm
from app.errors import error_response
from app.extensions import db, limiter
from app.observability import security_event
from app.ratelimits import login_username_key
from app.security import is_safe_redirect_url

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Wrong username or password, or the account is not active. Try again."


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
            login_user(user)
            rotate_csrf_token()
            security_event("login", username=user.username)
            target = form.next.data
            return redirect(target if is_safe_redirect_url(target) else _start_page())
        security_event("login_failed", username=services.normalise_username(form.username.data)[:64])
        flash(LOGIN_FAILED, "danger")
    return render_template("auth/login.html", form=form)


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
    flash("You have logged out.", "info")
    return redirect(url_for("auth.login"))
