"""JSON API under /api/v1: thin handlers over the same services as the pages."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import (bags, bearer, dashboard, dispatches, imports, jobs, labels,  # noqa: E402,F401
                     openapi, scans, session, sites, users)  # (they register their routes on bp)
