"""/account/tokens (DESIGN 8.4, 8.7): one form (name, scopes, expiry, current password), the
token shown once on the next page, the list with expiry, last use and a revoke button. An
admin also sees and may revoke everyone's live tokens (audited). Thin: app/auth/tokens.py
decides; each handler commits once."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import tokens
from app.domain import DomainError
from app.extensions import db, limiter
from app.i18n import translate
from app.models.types import utcnow
from app.ratelimits import user_rate_key
from app.tokens.forms import RevokeForm, TokenForm

bp = Blueprint("tokens", __name__)


def _actor():
    return current_user._get_current_object()


def _refused(response) -> bool:
    return response.status_code != 200  # the token's page is 200; every refusal is not


def _page(form: TokenForm, status: int = 200):
    user = _actor()
    others = tokens.other_users_live_tokens(user) if user.has_role("admin") else []
    return render_template("tokens/index.html", form=form,
                           mine=[(token, user) for token in tokens.tokens_of(user)],
                           others=others, revoke_form=RevokeForm(), now=utcnow(),
                           expires_soon=tokens.expires_soon, warn_days=tokens.WARN_DAYS), status


@bp.get("/account/tokens")
@login_required
def show_tokens():
    return _page(TokenForm().offer(tokens.allowed_scopes(_actor()), _actor().site_codes()))


@bp.post("/account/tokens")
@login_required
@limiter.limit(lambda: current_app.config["LOGIN_USERNAME_RATE_LIMIT"],
               key_func=user_rate_key, scope="account-password", deduct_when=_refused)
def create_token():
    """Guessing the current password here is throttled like the account page's."""
    user = _actor()
    form = TokenForm().offer(tokens.allowed_scopes(user), user.site_codes())
    if not form.validate():
        return _page(form, 422)
    try:
        token, text = tokens.create_token(user, form.name.data, form.scopes.data,
                                          form.expires_in_days.data, form.current_password.data,
                                          form.sites.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        field = getattr(form, {"password": "current_password"}.get(
            error.details.get("field"), error.details.get("field") or ""), None)
        if field is not None:
            field.errors = [*field.errors, translate(error.message)]
        else:
            flash(translate(error.message), "danger")
        return _page(form, error.status)
    return render_template("tokens/once.html", token=token, text=text)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    form = RevokeForm()
    if not form.validate():
        flash(_("The page was too old: try again."), "warning")
        return redirect(url_for("tokens.show_tokens"), 303)
    token = tokens.get_token(token_id)  # 404 for a token that is not there
    tokens.revoke_token(_actor(), token)  # 404 for another's token, unless an admin
    db.session.commit()
    flash(_("The token %(name)s (%(prefix)s) is revoked: it no longer works.", name=token.name,
            prefix=token.prefix), "success")
    return redirect(url_for("tokens.show_tokens"), 303)
