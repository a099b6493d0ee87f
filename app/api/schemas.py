"""The /api/v1 objects and request bodies (DESIGN 6 and 8), as pydantic models: the one
source of validation, answers and the OpenAPI document (app/api/contract.py).

Codes are declared as text but taken as any JSON value: a number, a list or null where a
code belongs is refused by the scan service as `invalid_code` (DESIGN 4) and recorded as a
rejected scan, as the station's refusals are; the rule book decides what a code is."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from app.rules.bags import REASON_MAX, REASON_MIN
from app.api.contract import AnswerModel, ErrorAnswer, RequestModel  # noqa: F401 (documented)

CODE_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 64,
               "description": "A bag code as scanned; normalised (DESIGN 4) before anything else."}
Code = Annotated[Any, WithJsonSchema(CODE_SCHEMA)]
OptionalCode = Annotated[Any, WithJsonSchema({"anyOf": [CODE_SCHEMA, {"type": "null"}]})]
Station = Annotated[str | None, Field(description="The scanning station's name, shown in the "
                                                  "bag's history.")]
Time = Annotated[str, Field(description="ISO 8601 with offset, in UTC.",
                            json_schema_extra={"format": "date-time"})]


def optional(schema: dict) -> WithJsonSchema:
    """Declared as `schema` or null; taken as any JSON value (the service judges it)."""
    return WithJsonSchema({"anyOf": [schema, {"type": "null"}]})


Reason = Annotated[Any, optional({"type": "string", "minLength": REASON_MIN, "maxLength": REASON_MAX,
                                  "description": "Why (kept in the audit log)."})]
ScanId = Annotated[Any, WithJsonSchema({
    "anyOf": [{"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"}, {"type": "null"}],
    "description": "Makes the scan idempotent: the same scan sent again answers `replayed`. "
                   "Unique per user."})]
STATION_REFUSAL = ("invalid_station",
                   "station must be text (the name of the scanning station), or left out.")

# --- objects -------------------------------------------------------------------------------


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


# --- scans -----------------------------------------------------------------------------------


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


# --- bags and corrections ----------------------------------------------------------------------


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


# --- dashboard, jobs, imports, session -----------------------------------------------------------


class StaleDispatch(AnswerModel):
    code: str
    destination: str
    vehicle_number: str
    parents_loaded: int
    expected_parents: int
    created_at: Time


class DispatchFigures(AnswerModel):
    """The dashboard's dispatch card (DESIGN 8.2): "today" in the app's time zone."""

    loading: int = Field(description="Dispatches loading now.")
    dispatched_today: int
    parents_out_today: int
    bags_out_today: int = Field(description="Child bags on today's dispatches (returned "
                                            "parents not counted).")
    stale_hours: int = Field(description="STALE_DISPATCH_HOURS: a dispatch loading longer "
                                         "is listed in `stale`.")
    stale: list[StaleDispatch] = Field(description="Loading longer than stale_hours, oldest "
                                                   "first.")


class DashboardStats(AnswerModel):
    parents: dict[str, int]
    children: dict[str, int]
    scans: dict[str, int]
    hourly: list[dict[str, Any]]
    people: list[dict[str, Any]]
    stale_parents: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]
    imports: list[dict[str, Any]] = Field(description="The imports that finished today.")
    dispatches: DispatchFigures
    generated_at: Time


class SiteStats(AnswerModel):
    site: dict[str, Any] = Field(description="The site: code, name, timezone.")
    stats: DashboardStats = Field(description="Its figures, in its own time zone.")


class SitesSideBySide(AnswerModel):
    items: list[SiteStats]


class Activity(AnswerModel):
    items: list[dict[str, Any]] | None = None


class Job(AnswerModel):
    id: int
    kind: str
    status: str
    progress: dict[str, Any]
    result: Any = None
    error: str | None = None
    attempts: int | None = None
    created_at: Time | None = None
    started_at: Time | None = None
    finished_at: Time | None = None


class ImportRecord(AnswerModel):
    id: int
    file: str | None = None
    size: int | None = None
    sha256: str | None = None
    file_type: str | None = None
    layout: str | None = None
    created_at: Time | None = None
    upload: dict[str, Any]
    check_job: dict[str, Any] | None = None
    import_job: dict[str, Any] | None = None
    check_result: Any = None
    import_result: Any = None


class SessionAnswer(AnswerModel):
    user: User
    csrf_token: str = Field(description="Send it as X-CSRFToken on POST, PATCH and DELETE "
                                        "with the session cookie.")


# --- users -----------------------------------------------------------------------------------


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


# --- labels (DESIGN 8.3; the endpoint is on main: app/api/labels.py) ----------------------------


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


# --- dispatches (DESIGN 8.2, 8.7) --------------------------------------------------------------


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
# --- sites (DESIGN 8.5, 8.7; issue 21) ----------------------------------------------------------


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
