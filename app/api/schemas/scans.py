"""Scans: parent, child, batch, undo and complete (DESIGN 5, 8.4)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from app.api.contract import AnswerModel, RequestModel
from app.api.schemas.common import CODE_SCHEMA, Code, OptionalCode, STATION_REFUSAL, ScanId, Station
from app.api.schemas.objects import Bag, Parent


class ScanAnswer(AnswerModel):
    result: str = Field(description="What happened (DESIGN 5).")
    parent: Parent
    child: Bag | None = None
    scanned_at_ignored: bool | None = Field(
        None, description="true when the client's scanned_at was outside the accepted window.")
    message: str | None = None


class ParentScan(RequestModel):
    refusals = {"code": ("invalid_code", "The code must be text, as the scanner reads it."),
                "station": STATION_REFUSAL}
    required = ("code",)
    code: Code = None
    station: Station = None


class ChildScan(RequestModel):
    refusals = {"parent": ("invalid_code", "The parent must be text, as the scanner reads it."),
                "code": ("invalid_code", "The code must be text, as the scanner reads it."),
                "station": STATION_REFUSAL}
    required = ("parent", "code")
    parent: Code = None
    code: Code = None
    scan_id: ScanId = None
    scanned_at: Annotated[Any, WithJsonSchema({
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
        "description": "When the client scanned (ISO 8601 with offset); kept when it lies "
                       "from 7 days before to 5 minutes after the server's clock."})] = None
    station: Station = None


BATCH_ITEM_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["code"],
    "properties": {
        "code": CODE_SCHEMA,
        "scan_id": {"anyOf": [{"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
                              {"type": "null"}]},
        "scanned_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
    }}


class BatchScan(RequestModel):
    """Child scans of one parent, in order (DESIGN 8.4). The items are checked whole before any
    is scanned (a body wrong anywhere stores nothing), then each is judged as a single scan."""

    refusals = {"station": STATION_REFUSAL}
    required = ("parent", "items")
    parent: Code = None
    items: Annotated[Any, WithJsonSchema({
        "type": "array", "maxItems": 100, "items": BATCH_ITEM_SCHEMA,
        "description": "At most 100 scans; more is 422 too_many_items and stores nothing."
    })] = None
    station: Station = None


class BatchResult(AnswerModel):
    """One item's outcome: `result` when it was taken, `error` when it was refused."""

    code: str | None
    scan_id: str | None = Field(None, description="The item's scan_id, when it was text.")
    result: str | None = None
    error: dict[str, Any] | None = None
    parent: Parent | None = None
    scanned_at_ignored: bool | None = None
    message: str | None = None


class BatchAnswer(AnswerModel):
    results: list[BatchResult]


class UndoScan(RequestModel):
    refusals = {"station": STATION_REFUSAL}
    parent: OptionalCode = Field(None, description="Undo the last scan this user sent into it.")
    code: OptionalCode = Field(None, description="Undo this child's link.")
    station: Station = None


class CompleteParent(RequestModel):
    refusals = {"force": ("invalid_force", "force must be true or false."),
                "station": STATION_REFUSAL}
    force: bool = Field(False, description="Finish before the parent is full.")
    station: Station = None


class StationOnly(RequestModel):
    refusals = {"station": STATION_REFUSAL}
    station: Station = None
