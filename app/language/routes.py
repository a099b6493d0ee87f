"""POST /language: the switch in the navigation, for a shared station and the login page.
A logged-in user's choice becomes their setting (as on /account); before login it lasts for
the browser's session. Then back to the page it was pressed on."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user

from app.auth.services import AccountError
from app.extensions import db
from app.i18n import SESSION_KEY
from app.security import is_safe_redirect_url
from app.users import services

bp = Blueprint("language", __name__)


@bp.post("/language")
def switch_language():
    back = request.form.get("next") or ""
    if not is_safe_redirect_url(back):
        back = url_for("auth.index")
    try:
        language = services.check_language(request.form.get("language"))
    except AccountError:
        db.session.rollback()
        flash(_("Choose one of the languages in the list."), "warning")
        return redirect(back, 303)
    if language is None:
        session.pop(SESSION_KEY, None)
    else:
        session[SESSION_KEY] = language
    if current_user.is_authenticated:
        services.set_preferences(current_user._get_current_object(), {"language": language})
        db.session.commit()
    refresh()
    return redirect(back, 303)
