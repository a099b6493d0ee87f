from app.api import bp
from app.api import schemas as s
from app.api.contract import operation
from app.api.helpers import json_response
from app.auth.decorators import role_required
from app.dashboard import services


@bp.get("/dashboard/stats")
@role_required("supervisor")
@operation(role="supervisor", answers={200: s.DashboardStats}, errors=("forbidden",),
           tags=("dashboard",))
def dashboard_stats():
    """Every figure of the dashboard (DESIGN.md section 6), computed now."""
    return json_response(services.dashboard_stats())


@bp.get("/dashboard/activity")
@role_required("supervisor")
@operation(role="supervisor", answers={200: s.Activity}, errors=("forbidden",),
           tags=("dashboard",))
def dashboard_activity():
    """The latest scan events of every kind: the dashboard's recent activity list."""
    return json_response(services.recent_activity())


@bp.get("/dashboard/sites")
@role_required("admin")
@operation(role="admin", answers={200: s.SitesSideBySide}, errors=("forbidden",),
           tags=("dashboard",))
def dashboard_sites():
    """Every site's figures side by side (issue 21), each in its own time zone: "today" is
    each site's own day."""
    return json_response({"items": services.sites_side_by_side()})
