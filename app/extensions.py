"""Unbound extensions: created here, bound to an app in create_app(). Nothing connects at import."""

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

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
    """Flask-WTF's CSRF check, unchanged but for where it looks first: it reads the token from
    the form, then from the headers. A body that is not a form (the JSON API) has no form, so
    its token is read from the headers at once, without building an empty form each request
    (issue 25). Validation, exemptions and the referrer check are Flask-WTF's own."""

    def _get_csrf_token(self):
        if request.mimetype in FORM_BODIES:
            return super()._get_csrf_token()
        for header_name in current_app.config["WTF_CSRF_HEADERS"]:
            token = request.headers.get(header_name)
            if token:
                return token
        return None


csrf = HeaderFirstCSRFProtect()
limiter = Limiter(key_func=get_remote_address)
