"""Bag queries and corrections (DESIGN 6)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.api.contract import AnswerModel, RequestModel
from app.api.schemas.common import Code, Reason
from app.api.schemas.objects import Parent


class BagQuery(RequestModel):
    model_config = {"extra": "ignore"}  # a page's query string may carry more; these are read
    kind: str | None = Field(None, description="parent or child")
    status: str | None = Field(None, description="open, complete, linked or unlinked")
    q: str | None = Field(None, description="A code prefix.")
    created_from: str | None = Field(None, description="A date or an ISO 8601 time.")
    created_to: str | None = Field(None, description="A date (the whole day) or a time.")
    user: str | None = Field(None, description="Who created the bag (username).")
    limit: str | None = Field(None, description="Page size, 1 to 200 (default 50).")
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


class Correction(RequestModel):
    reason: Reason = None


class MoveChild(RequestModel):
    required = ("parent",)
    parent: Code = None
    reason: Reason = None


class CorrectionAnswer(AnswerModel):
    result: str
    bag: dict[str, Any] | None
    parent: Parent | None = None
    previous_parent: Parent | None = None
