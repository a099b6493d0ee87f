"""The dashboard, jobs, imports and the session (DESIGN 6, 8.5)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.api.contract import AnswerModel
from app.api.schemas.common import Time
from app.api.schemas.objects import User


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
