"""Liveness and readiness for load balancers: no login, no rate limit."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db, limiter

bp = Blueprint("health", __name__, url_prefix="/health")
limiter.exempt(bp)


@bp.route("")
def live():
    """The process answers; touches no database."""
    return jsonify(status="ok")


@bp.route("/ready")
def ready():
    """200 when the database answers a query; 503 otherwise, within the connect timeout."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("readiness check failed: %s", exc.__class__.__name__)
        response = jsonify(status="unavailable", error={
            "code": "database_unavailable",
            "message": "The database does not answer. Check that it is running and reachable.",
        })
        response.status_code = 503
        response.headers["Retry-After"] = "2"
        return response
    return jsonify(status="ok", database="ok")
