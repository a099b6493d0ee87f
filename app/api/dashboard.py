from app.api import bp
from app.api.helpers import json_response
from app.auth.decorators import role_required
from app.dashboard import services


@bp.get("/dashboard/stats")
@role_required("supervisor")
def dashboard_stats():
    """Every figure of the dashboard (DESIGN.md section 6), computed now."""
    return json_response(services.dashboard_stats())


@bp.get("/dashboard/activity")
@role_required("supervisor")
def dashboard_activity():
    """The latest scan events of every kind: the dashboard's recent activity list."""
    return json_response(services.recent_activity())
