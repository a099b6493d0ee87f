"""GET /api/v1/imports/<id>: an import, its two jobs and whether its file is still kept."""

from app.api import bp
from app.api import schemas as s
from app.api.contract import operation
from app.api.helpers import json_response
from app.auth.decorators import role_required
from app.errors import error_response
from app.extensions import db
from app.imports import upload
from app.models import Job
from app.models.imports import Import


def _iso(value):
    return value.isoformat() if value else None


def _job(job_id: int | None) -> dict | None:
    job = db.session.get(Job, job_id) if job_id else None
    return {"id": job.id, "status": job.status, "error": job.error} if job else None


@bp.get("/imports/<int:import_id>")
@role_required("supervisor")
@operation(role="supervisor", answers={200: s.ImportRecord},
           errors=("forbidden", "import_not_found"), tags=("imports",))
def show_import(import_id: int):
    """An import: its file, its two jobs and whether the upload is still kept."""
    record = db.session.get(Import, import_id)
    if record is None:
        return error_response(404, "import_not_found", "There is no such import.")
    kept = upload.upload_state(record)
    return json_response({
        "id": record.id, "file": record.filename, "size": record.size,
        "sha256": record.sha256, "file_type": record.file_type, "layout": record.layout,
        "created_at": _iso(record.created_at),
        "upload": {"kept": kept["kept"], "kept_until": _iso(kept["kept_until"]),
                   "removed_at": _iso(kept["removed_at"]), "message": kept["message"]},
        "check_job": _job(record.check_job_id), "import_job": _job(record.import_job_id),
        "check_result": record.check_result, "import_result": record.import_result,
    })
