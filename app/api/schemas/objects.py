"""The objects the API answers with: a bag, a parent, a user, a trace (DESIGN 6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from app.api.contract import AnswerModel
from app.api.schemas.common import Time


class Parent(AnswerModel):
    code: str
    kind: Literal["parent"]
    status: Literal["open", "complete"]
    capacity: int
    child_count: int
    children: list[str] | None = Field(None, description="Child codes, newest first.")


class Bag(AnswerModel):
    code: str
    kind: Literal["parent", "child"]
    status: str = Field(description="open or complete (parent); linked or unlinked (child)")
    created_at: Time | None = None
    parent: str | None = None
    linked_at: Time | None = None


class User(AnswerModel):
    username: str
    display_name: str | None = None
    role: Literal["staff", "supervisor", "admin"]
    is_active: bool
    last_login_at: Time | None = None
    language: Literal["en", "hi"] | None = Field(
        None, description="Pages and messages in this language; null: the browser's.")
    timezone: str | None = Field(
        None, description="IANA time zone for shown times; null: the site's.")
    sites: list[str] = Field(default_factory=list,
                             description="The sites the user works in (codes); an admin's are all.")


class Event(AnswerModel):
    """One line of a bag's timeline."""


class Trace(AnswerModel):
    """A bag with its parent (a code or null), children (newest first) and timeline."""

    code: str
    kind: Literal["parent", "child"]
    status: str
    created_at: Time | None = None
    created_by: str | None = None
    parent: str | None = None
    children: list[dict[str, Any]]
    events: list[dict[str, Any]]
    capacity: int | None = None
    child_count: int | None = None
    linked_at: Time | None = None


class BagPage(AnswerModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Send it as `cursor` for the next page; null "
                                                "on the last page.")
