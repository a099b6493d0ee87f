"""JSON API under /api/v1: thin handlers over the same services as the pages."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import scans  # noqa: E402,F401  (registers the routes on bp)
