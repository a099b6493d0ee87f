"""The users API (DESIGN.md section 6), for provisioning from other systems: the same
services, rules and guards as the /users pages."""

from flask import url_for
from flask_login import current_user

from app.api import bp
from app.api import schemas as s
from app.api.contract import body, operation
from app.api.helpers import json_response
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


USER_EXAMPLE = {"username": "asha", "display_name": "Asha", "role": "staff", "is_active": True,
                "last_login_at": None}
FIELD_ERRORS = ("invalid_username", "invalid_role", "invalid_password", "weak_password",
                "invalid_display_name", "invalid_is_active")


def _sent() -> dict:
    """The fields the client sent (the service tells a missing field from a null one)."""
    return body().model_dump(exclude_unset=True)


@bp.get("/users")
@role_required("admin")
@operation(role="admin", answers={200: s.UserList}, errors=("forbidden",), tags=("users",),
           examples={200: {"items": [USER_EXAMPLE]}})
def list_users():
    """Each user with their live API tokens (issue 19): names, scopes, dates; no secret."""
    users = services.list_users()
    live = tokens.live_tokens_by_user([user.id for user in users])
    sites = services.site_codes_by_user(users)
    return json_response({"items": [
        {**user.to_dict(sites[user.id]), "tokens": [token.to_dict() for token in live.get(user.id, [])]}
        for user in users]})


@bp.post("/users")
@role_required("admin")
@operation(role="admin", body=s.NewUser, answers={201: s.User}, tags=("users",),
           errors=("forbidden", "username_taken", *FIELD_ERRORS),
           examples={"request": {"username": "asha", "role": "staff",
                                 "password": "a long passphrase of hers"},
                     201: USER_EXAMPLE})
def create_user():
    """Create a user (admin): 201 with Location; the same rules as the /users pages."""
    try:
        user = services.create_account_from(current_user._get_current_object(), _sent())
        db.session.commit()
    except AccountError as error:
        return _refusal(error)
    response = json_response(user.to_dict(), 201)
    response.headers["Location"] = url_for("api.update_user", username=user.username)
    return response


@bp.patch("/users/<username>")
@role_required("admin")
@operation(role="admin", body=s.UserChange, answers={200: s.User}, tags=("users",),
           errors=("forbidden", "user_not_found", "no_changes", "last_admin", "own_account",
                   "same_password",
                   *FIELD_ERRORS),
           examples={"request": {"role": "supervisor"},
                     200: {**USER_EXAMPLE, "role": "supervisor"}})
def update_user(username):
    """Change a user's role, active flag, password or display name (admin)."""
    try:
        user = services.get_user(username)
        services.update_user(current_user._get_current_object(), user, _sent())
        db.session.commit()
    except AccountError as error:
        return _refusal(error)
    return json_response(user.to_dict())
