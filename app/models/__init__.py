from app.models.bag import CHILD, COMPLETE, LINKED, OPEN, PARENT, UNLINKED, Bag
from app.models.daily_send import DailySend
from app.models.dispatch import Dispatch, DispatchItem
from app.models.events import ACCEPTED, REJECTED, AuditEvent, ScanEvent
from app.models.imports import Import, ImportReportPart
from app.models.job import Job
from app.models.token import ApiToken
from app.models.label import LabelCode, LabelCounter, LabelSeries
from app.models.site import Site, UserSite
from app.models.user import ROLES, RecoveryCode, User

__all__ = [
    "ACCEPTED", "ApiToken", "CHILD", "COMPLETE", "LINKED", "OPEN", "PARENT", "REJECTED", "ROLES",
    "RecoveryCode", "UNLINKED", "AuditEvent", "Bag", "Dispatch", "DispatchItem", "Import", "ImportReportPart", "Job", "LabelCode", "LabelCounter", "LabelSeries", "ScanEvent", "Site", "User", "UserSite",
    "DailySend",
]
