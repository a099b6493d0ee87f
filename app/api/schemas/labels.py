"""Label series (DESIGN 8.3)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from app.api.contract import AnswerModel, RequestModel


class NewLabelSeries(RequestModel):
    """The labels service judges the values (422 invalid_input with field)."""

    required = ("prefix", "count")
    prefix: Annotated[Any, WithJsonSchema({
        "type": "string", "minLength": 1, "maxLength": 16,
        "description": "The start of the parent codes, e.g. SB or M444-."})] = None
    count: Annotated[Any, WithJsonSchema({"type": "integer", "minimum": 1,
                                          "maximum": 1000})] = None


class LabelSeries(AnswerModel):
    id: int
    codes: list[str] = Field(description="The reserved codes, in order.")
    pdf: str = Field(description="URL of the PDF sheet (layouts: a4-3x8, a4-4x10, single).")
    zpl: str = Field(description="URL of the ZPL for Zebra printers.")
