"""Reading jobs: which one a user may see (the /jobs pages and the JSON API)."""

from __future__ import annotations

from flask_login import current_user

from app.extensions import db
from app.models import Job


def visible_job(job_id: int) -> Job | None:
    """A job its creator, a supervisor or an admin may see."""
    job = db.session.get(Job, job_id)
    if job is None:
        return None
    if job.created_by_id != current_user.id and not current_user.has_role("supervisor"):
        return None
    return job
