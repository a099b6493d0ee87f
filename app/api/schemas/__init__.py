"""The /api/v1 objects and request bodies (DESIGN 6 and 8), as pydantic models: the one
source of validation, answers and the OpenAPI document (app/api/contract.py). One module per
part of the API; handlers use them as `from app.api import schemas as s`.

Codes are declared as text but taken as any JSON value: a number, a list or null where a
code belongs is refused by the scan service as `invalid_code` (DESIGN 4) and recorded as a
rejected scan, as the station's refusals are; the rule book decides what a code is."""

from app.api.schemas.objects import BagPage, Trace, User
from app.api.schemas.scans import (BatchAnswer, BatchScan, ChildScan, CompleteParent, ParentScan,
    ScanAnswer, StationOnly, UndoScan)
from app.api.schemas.bags import BagQuery, Correction, CorrectionAnswer, MoveChild
from app.api.schemas.dashboard import (Activity, DashboardStats, ImportRecord, Job, SessionAnswer,
    SitesSideBySide)
from app.api.schemas.users import NewUser, UserChange, UserList
from app.api.schemas.labels import LabelSeries, NewLabelSeries
from app.api.schemas.dispatches import (DispatchChange, DispatchDetail, DispatchOut, DispatchPage,
    DispatchQuery, DispatchReason, LoadParent, NewDispatch, ReceiveParent, ReturnParent,
    UnloadParent)
from app.api.schemas.sites import NewSite, Site, SiteChange, SiteList, SiteSwitch, SiteSwitchAnswer

__all__ = [
    "BagPage", "Trace", "User", "BatchAnswer", "BatchScan", "ChildScan", "CompleteParent",
    "ParentScan", "ScanAnswer", "StationOnly", "UndoScan", "BagQuery", "Correction",
    "CorrectionAnswer", "MoveChild", "Activity", "DashboardStats", "ImportRecord", "Job",
    "SessionAnswer", "SitesSideBySide", "NewUser", "UserChange", "UserList", "LabelSeries",
    "NewLabelSeries", "DispatchChange", "DispatchDetail", "DispatchOut", "DispatchPage",
    "DispatchQuery", "DispatchReason", "LoadParent", "NewDispatch", "ReceiveParent",
    "ReturnParent", "UnloadParent", "NewSite", "Site", "SiteChange", "SiteList", "SiteSwitch",
    "SiteSwitchAnswer",
]
