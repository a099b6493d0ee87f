from flask_login import login_required

from app.api import bp
from app.api import schemas as s
from app.api.contract import operation
from app.api.helpers import json_response
from app.errors import error_response
from app.jobs.services import visible_job


@bp.get("/jobs/<int:job_id>")
@login_required
@operation(role="staff", answers={200: s.Job}, errors=("job_not_found",), tags=("jobs",))
def show_job(job_id: int):
    """A background job: staff see their own, supervisors and admins every one."""
    job = visible_job(job_id)
    if job is None:
        return error_response(404, "job_not_found", "There is no such job, or it is not yours.")
    return json_response(job.to_dict())
