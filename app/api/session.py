from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from app.api import bp
from app.api import schemas as s
from app.api.contract import operation
from app.api.helpers import json_response


@bp.get("/session")
@login_required
@operation(role="staff", answers={200: s.SessionAnswer}, tags=("session",))
def show_session():
    """Who is logged in, and a fresh CSRF token: a page open for a whole shift renews its
    token here and resends the scan instead of dropping it."""
    return json_response({"user": current_user.to_dict(), "csrf_token": generate_csrf()})
