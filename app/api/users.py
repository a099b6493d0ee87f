"""The users API (DESIGN.md section 6), for provisioning from other systems: the same
services, rules and guards as the /users pages."""

from flask import url_for
from flask_login import current_user

from app.api import bp
from app.api.helpers import BadRequestBody, bad_body_response, json_body, json_response
from app.auth.decorators import role_required
from app.auth import tokens
from app.auth.services import AccountError
from app.errors import error_response
from app.extensions import db
from app.users import services


def _refusal(error: AccountError):
    db.session.rollback()
    details = {"field": error.field} if error.field else {}
    return error_response(error.status, error.code, error.message, **details)


@bp.get("/users")
@role_required("admin")
def list_users():
    """Each user with their live API tokens (issue 19): names, scopes, dates; no secret."""
    users = services.list_users()
    live = tokens.live_tokens_by_user([user.id for user in users])
    return json_response({"items": [
        {**user.to_dict(), "tokens": [token.to_dict() for token in live.get(user.id, [])]}
        for user in users]})


@bp.post("/users")
@role_required("admin")
def create_user():
    try:
        user = services.create_account_from(current_user._get_current_object(), json_body())
        db.session.commit()
    except BadRequestBody:
        return bad_body_response()
    except AccountError as error:
        return _refusal(error)
    response = json_response(user.to_dict(), 201)
    response.headers["Location"] = url_for("api.update_user", username=user.username)
    return response


@bp.patch("/users/<username>")
@role_required("admin")
def update_user(username):
    try:
        body = json_body()
        user = services.get_user(username)
        services.update_user(current_user._get_current_object(), user, body)
        db.session.commit()
    except BadRequestBody:
        return bad_body_response()
    except AccountError as error:
        return _refusal(error)
    return json_response(user.to_dict())
