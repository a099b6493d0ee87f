from flask_login import login_required

from app.api import bp
from app.api.helpers import json_response
from app.errors import error_response
from app.jobs.services import visible_job


@bp.get("/jobs/<int:job_id>")
@login_required
def show_job(job_id: int):
    job = visible_job(job_id)
    if job is None:
        return error_response(404, "job_not_found", "There is no such job, or it is not yours.")
    return json_response(job.to_dict())
