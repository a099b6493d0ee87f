from flask import Blueprint, render_template

from app.auth.decorators import role_required
from app.dashboard.services import bag_counts

bp = Blueprint("dashboard", __name__)


@bp.route("/dashboard")
@role_required("supervisor")
def show_dashboard():
    return render_template("dashboard/index.html", counts=bag_counts())
