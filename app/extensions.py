"""Unbound extensions: created here, bound to an app in create_app(). Nothing connects at import."""

import hmac

from flask import current_app, g, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect, same_origin
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.signed import VerifiedTexts

# Stable constraint names, so that Alembic can find and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects keep their loaded values after commit: a request commits once, then serialises
# what it just wrote without reloading every row.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
# The bodies werkzeug parses into request.form; any other body has an empty form.
FORM_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data")


class HeaderFirstCSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF check, unchanged but for two shortcuts (issue 25):
    - where it looks first: it reads the token from the form, then from the headers. A body
      that is not a form (the JSON API) has no form, so its token is read from the headers at
      once, without building an empty form each request;
    - a token that this worker verified before is not verified again (app/signed.py): it must
      still be the token of this request's session, and as young as WTF_CSRF_TIME_LIMIT says.
    Exemptions, the methods checked, the refusals and the referrer check of HTTPS requests are
    Flask-WTF's own."""

    SALT = "wtf-csrf-token"  # Flask-WTF's, in generate_csrf and validate_csrf
    _verified = VerifiedTexts()

    def _get_csrf_token(self):
        if request.mimetype in FORM_BODIES:
            return super()._get_csrf_token()
        for header_name in current_app.config["WTF_CSRF_HEADERS"]:
            token = request.headers.get(header_name)
            if token:
                return token
        return None

    def protect(self, apply_exemptions=False):
        config = current_app.config
        secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        checked = (apply_exemptions and (not request.endpoint or self._is_exempt())
                   or request.method not in config["WTF_CSRF_METHODS"])
        token = None if checked else self._get_csrf_token()
        field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        raw = self._verified.get((secret, token), config.get("WTF_CSRF_TIME_LIMIT", 3600)) \
            if token else None
        if raw is None or field not in session or not hmac.compare_digest(session[field], raw):
            super().protect(apply_exemptions)
            if token and g.get("csrf_valid"):
                raw, signed_at = URLSafeTimedSerializer(secret, salt=self.SALT).loads(
                    token, return_timestamp=True)
                self._verified.remember((secret, token), signed_at, raw)
            return
        if request.is_secure and config["WTF_CSRF_SSL_STRICT"]:  # as Flask-WTF's protect()
            if not request.referrer:
                self._error_response("The referrer header is missing.")
            if not same_origin(request.referrer, f"https://{request.host}/"):
                self._error_response("The referrer does not match the host.")
        g.csrf_valid = True


csrf = HeaderFirstCSRFProtect()
limiter = Limiter(key_func=get_remote_address)
