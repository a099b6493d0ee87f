"""The field types the /api/v1 schemas share: a code, a station, a time, a reason, a scan_id.

Codes are declared as text but taken as any JSON value: a number, a list or null where a
code belongs is refused by the scan service as `invalid_code` (DESIGN 4) and recorded as a
rejected scan, as the station's refusals are; the rule book decides what a code is."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from app.rules.bags import REASON_MAX, REASON_MIN


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
