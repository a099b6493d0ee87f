"""Users: the list, a new user and a change (DESIGN 6, 8.6)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from app.api.contract import AnswerModel, RequestModel
from app.api.schemas.common import optional
from app.api.schemas.objects import User


class ListedUser(User):
    tokens: list[dict[str, Any]] = Field(default_factory=list,
                                         description="The user's live API tokens.")


class UserList(AnswerModel):
    items: list[ListedUser]


SITE_CODES = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 2,
                                                         "maxLength": 16},
              "description": "The sites the user works in (codes); at least one. A change "
                             "ends the user's sessions."}
USER_REFUSALS = {name: (f"invalid_{name}", None)
                 for name in ("username", "role", "password", "display_name", "is_active",
                              "language", "timezone", "sites")}


class NewUser(RequestModel):
    """The users service judges each value, with its own codes (app/users/services.py)."""

    refusals = USER_REFUSALS
    required = ("username", "role", "password")
    username: Annotated[Any, WithJsonSchema({"type": "string", "minLength": 2,
                                             "maxLength": 64})] = None
    role: Annotated[Any, WithJsonSchema({"enum": ["staff", "supervisor", "admin"]})] = None
    password: Annotated[Any, WithJsonSchema({"type": "string", "minLength": 12})] = None
    display_name: Annotated[Any, optional({"type": "string"})] = None
    language: Annotated[Any, optional({"enum": ["en", "hi"]})] = None
    timezone: Annotated[Any, optional({"type": "string", "description": "IANA, e.g. Asia/Kolkata"})] = None
    sites: Annotated[Any, optional(SITE_CODES)] = None


class UserChange(RequestModel):
    refusals = USER_REFUSALS
    role: Annotated[Any, optional({"enum": ["staff", "supervisor", "admin"]})] = None
    is_active: Annotated[Any, optional({"type": "boolean"})] = None
    password: Annotated[Any, optional({"type": "string", "minLength": 12})] = None
    display_name: Annotated[Any, optional({"type": "string"})] = None
    language: Annotated[Any, optional({"enum": ["en", "hi"]})] = None
    timezone: Annotated[Any, optional({"type": "string", "description": "IANA, e.g. Asia/Kolkata"})] = None
    sites: Annotated[Any, optional(SITE_CODES)] = None
