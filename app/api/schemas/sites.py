"""Sites (DESIGN 8.5, 8.7; issue 21)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import WithJsonSchema

from app.api.contract import AnswerModel, RequestModel
from app.api.schemas.common import optional


SITE_CODE_SCHEMA = {"type": "string", "pattern": "^[A-Z0-9_-]{2,16}$",
                    "description": "Capital letters, digits, - or _; fixed once made."}
TIMEZONE_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 64,
                   "description": "An IANA time zone name (Asia/Kolkata): the site's clock, "
                                  "its dashboard's today and hours."}


class Site(AnswerModel):
    code: str
    name: str
    timezone: str


class SiteList(AnswerModel):
    items: list[Site]


class NewSite(RequestModel):
    """The sites service judges the values (422 invalid_input with field)."""

    required = ("code", "name", "timezone")
    code: Annotated[Any, WithJsonSchema(SITE_CODE_SCHEMA)] = None
    name: Annotated[Any, WithJsonSchema({"type": "string", "minLength": 1,
                                         "maxLength": 120})] = None
    timezone: Annotated[Any, WithJsonSchema(TIMEZONE_SCHEMA)] = None


class SiteChange(RequestModel):
    name: Annotated[Any, optional({"type": "string", "minLength": 1, "maxLength": 120})] = None
    timezone: Annotated[Any, optional(TIMEZONE_SCHEMA)] = None


class SiteSwitch(RequestModel):
    required = ("site",)
    site: Annotated[Any, WithJsonSchema({**SITE_CODE_SCHEMA,
                                         "description": "A site the user works in."})] = None


class SiteSwitchAnswer(AnswerModel):
    result: Literal["switched"]
    site: Site
