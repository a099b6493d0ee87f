"""JSON API under /api/v1: thin handlers over the same services as the pages."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import bags, dashboard, dispatches, imports, jobs, scans, session, users  # noqa: E402,F401  (register their routes on bp)
