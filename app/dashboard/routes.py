"""The supervisor dashboard. The page is rendered with every figure, then static/js/
dashboard.js refreshes them from the JSON API every REFRESH_SECONDS without reloading."""

from flask import Blueprint, render_template, url_for

from app.auth.decorators import role_required
from app.dashboard import services

bp = Blueprint("dashboard", __name__)

REFRESH_SECONDS = 10
CODE_PLACEHOLDER = "__CODE__"


@bp.route("/dashboard")
@role_required("supervisor")
def show_dashboard():
    stats = services.dashboard_stats()
    activity = services.recent_activity()
    return render_template(
        "dashboard/index.html", stats=stats, activity=activity["items"],
        bag_url=services.bag_url,
        refresh_seconds=REFRESH_SECONDS,
        stats_url=url_for("api.dashboard_stats"),
        activity_url=url_for("api.dashboard_activity"),
        bag_url_pattern=services.bag_url(CODE_PLACEHOLDER),
    )


@bp.route("/dashboard/sites")
@role_required("admin")
def show_sites_side_by_side():
    """An admin's overview: every site's figures at once, each in its own time zone."""
    return render_template("dashboard/sites.html", items=services.sites_side_by_side())
