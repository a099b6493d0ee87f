"""Dispatches: loading, dispatching out, returns and receiving (DESIGN 8.2, 8.7)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from app.api.contract import AnswerModel, RequestModel
from app.api.schemas.common import Code, Reason, STATION_REFUSAL, ScanId, Station, Time, optional
from app.api.schemas.objects import Parent


def _text(limit: int, description: str) -> WithJsonSchema:
    return optional({"type": "string", "maxLength": limit, "description": description})


class Dispatch(AnswerModel):
    code: str
    status: Literal["loading", "dispatched", "cancelled", "received"]
    destination: str
    vehicle_number: str
    driver: str | None
    transporter: str | None
    reference: str | None
    expected_parents: int
    parents_loaded: int = Field(description="Parents on it now (returned ones not counted).")
    children: int = Field(description="Child bags in its parents.")
    weight_kg: float = Field(description="children x CHILD_BAG_WEIGHT_KG")
    expected_weight_kg: float = Field(description="expected_parents x DEFAULT_PARENT_CAPACITY "
                                                  "x CHILD_BAG_WEIGHT_KG")
    short_reason: str | None = Field(description="Why it left short of expected_parents.")
    created_at: Time
    created_by: str | None
    dispatched_at: Time | None
    dispatched_by: str | None
    site: str | None = Field(None, description="The site it leaves from (issue 21).")
    destination_site: str | None = Field(
        None, description="A transfer's destination site; null for a customer's truck.")
    received_at: Time | None = Field(None, description="When a transfer's last parent was "
                                                       "received at its destination.")


class DispatchEvent(AnswerModel):
    """One line of a dispatch's timeline, oldest first."""

    at: Time | None
    user: str | None
    action: str = Field(description="dispatch_load, dispatch_unload, dispatched, received, "
                                    "dispatch_reopened, dispatch_cancelled or returned")
    result: str = Field(description="What happened, or the refusal's code for a refused load.")
    outcome: Literal["accepted", "rejected"]
    code: str
    reason: str | None
    station: str | None


class DispatchDetail(Dispatch):
    """A Dispatch with its parents (codes, loading order), returned parents and timeline."""

    parents: list[str]
    returned: list[str]
    events: list[DispatchEvent]


class DispatchPage(AnswerModel):
    items: list[Dispatch]
    next_cursor: str | None = Field(description="Send it as `cursor` for the next page; null "
                                                "on the last page.")
    counts: dict[str, int] = Field(description="Dispatches per status, under the same search.")


class DispatchChange(AnswerModel):
    """What a change did, the dispatch after it, and the parent when one moved."""

    result: str = Field(description="What happened (DESIGN 8.2).")
    dispatch: Dispatch
    parent: Parent | None = None


class DispatchQuery(RequestModel):
    model_config = {"extra": "ignore"}  # a page's query string may carry more; these are read
    status: str | None = Field(None, description="loading, dispatched, cancelled or received")
    q: str | None = Field(None, description="The start of a code or vehicle number, a "
                                            "reference, or words of the destination.")
    limit: str | None = Field(None, description="Page size, 1 to 200 (default 50).")
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


class NewDispatch(RequestModel):
    """The rule book judges each value (422 invalid_input with field)."""

    required = ("destination", "vehicle_number", "expected_parents")
    code: Annotated[Any, optional({
        "type": "string", "maxLength": 32,
        "description": "Scanned from the bill (normalised like a bag code, then "
                       "^[A-Z0-9][A-Z0-9/-]{2,31}$); left out or empty, one is made "
                       "(D000123)."})] = None
    destination: Annotated[Any, WithJsonSchema({"type": "string", "minLength": 1,
                                                "maxLength": 120})] = None
    vehicle_number: Annotated[Any, WithJsonSchema({
        "type": "string", "minLength": 3, "maxLength": 20,
        "description": "As on its plate; normalised like a code (MH 12 AB 1234)."})] = None
    expected_parents: Annotated[Any, WithJsonSchema({"type": "integer", "minimum": 1,
                                                     "maximum": 500})] = None
    driver: Annotated[Any, _text(120, "The driver's name.")] = None
    transporter: Annotated[Any, _text(120, "The transport company.")] = None
    reference: Annotated[Any, _text(64, "The LR or invoice number.")] = None
    destination_site: Annotated[Any, optional({
        "type": "string", "pattern": "^[A-Z0-9_-]{2,16}$",
        "description": "Makes it a transfer to this site (issue 21)."})] = None


class LoadParent(RequestModel):
    refusals = {"station": STATION_REFUSAL}
    required = ("code",)
    code: Code = None
    scan_id: ScanId = None
    station: Station = None


class UnloadParent(RequestModel):
    refusals = {"station": STATION_REFUSAL}
    required = ("code",)
    code: Code = None
    station: Station = None


class ReceiveParent(RequestModel):
    """A transfer's parent scanned at its destination site."""

    refusals = {"station": STATION_REFUSAL}
    required = ("code",)
    code: Code = None
    station: Station = None


class DispatchOut(RequestModel):
    """`reason`: why it leaves short; needed when fewer parents than expected are on it
    (409 under_expected without)."""

    reason: Reason = None


class DispatchReason(RequestModel):
    required = ("reason",)
    reason: Reason = None


class ReturnParent(RequestModel):
    required = ("parent", "reason")
    parent: Code = None
    reason: Reason = None
