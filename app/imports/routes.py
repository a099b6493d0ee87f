"""Import pages (supervisor+): upload a file, follow its dry run, confirm, follow the
import, download the per-row reports. The work runs as background jobs (app/jobs)."""

from __future__ import annotations

from flask import (Blueprint, Response, current_app, flash, redirect, render_template,
                   stream_with_context, url_for)
from flask_babel import gettext as _
from flask_login import current_user

from app.domain import N_
from app.i18n import translate
from app.auth.decorators import role_required
from app.errors import error_response
from app.extensions import db
from app.imports import jobs, report  # noqa: F401  (jobs registers the import job)
from app.imports import upload as uploads
from app.imports.forms import ConfirmForm, UploadForm
from app.imports.parsing import FileRefused
from app.imports.upload import ImportRefused
from app.jobs.runner import wake
from app.models import Job, User
from app.models.imports import Import
from app.models.job import SUCCEEDED

bp = Blueprint("imports", __name__)

REPORT_RUNS = {"check": "dry-run", "import": "report"}
LAYOUTS = {"table": N_("plain table (code, kind, parent_code)"),
           "supplier": N_("supplier sheet (Sr. No., QR Code)")}


def _index(form: UploadForm, status: int = 200):
    return render_template("imports/index.html", form=form, imports=uploads.recent_imports(),
                           max_mib=f"{current_app.config['MAX_CONTENT_LENGTH'] / 2**20:g}"), status


def _find_import(import_id: int) -> Import | None:
    return db.session.get(Import, import_id)


def _not_found():
    return error_response(404, "import_not_found",
                          N_("There is no such import. Pick one from the list of imports."))


@bp.get("/imports")
@role_required("supervisor")
def show_imports():
    return _index(UploadForm())


@bp.post("/imports")
@role_required("supervisor")
def upload_import():
    form = UploadForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    upload = form.file.data
    try:
        record = uploads.store_upload(current_user, upload.filename, upload.read())
    except FileRefused as exc:
        db.session.rollback()
        form.file.errors.append(translate(exc.message))
        return _index(form, 422)
    db.session.commit()
    wake()
    flash(_("%(name)s is uploaded. Its dry run is checking every row: nothing is imported "
            "until you confirm.", name=record.filename), "info")
    return redirect(url_for("imports.show_import", import_id=record.id))


@bp.get("/imports/<int:import_id>")
@role_required("supervisor")
def show_import(import_id: int):
    record = _find_import(import_id)
    if record is None:
        return _not_found()
    check_job = db.session.get(Job, record.check_job_id) if record.check_job_id else None
    import_job = db.session.get(Job, record.import_job_id) if record.import_job_id else None
    uploader = db.session.get(User, record.created_by_id) if record.created_by_id else None
    return render_template(
        "imports/show.html", record=record, check_job=check_job, import_job=import_job,
        uploader=uploader, before=uploads.earlier_import(record), form=ConfirmForm(),
        upload=uploads.upload_state(record),
        can_confirm=record.check_result is not None and record.content_purged_at is None
        and (import_job is None or import_job.status == "failed"))


@bp.post("/imports/<int:import_id>/confirm")
@role_required("supervisor")
def confirm_import(import_id: int):
    try:
        job = uploads.confirm_import(current_user, import_id)
    except ImportRefused as exc:
        db.session.rollback()
        if exc.status == 404:
            return _not_found()
        flash(translate(exc.message), "warning")
        return redirect(url_for("imports.show_import", import_id=import_id))
    db.session.commit()
    wake()
    flash(_("The import is running as job %(id)s.", id=job.id), "info")
    return redirect(url_for("imports.show_import", import_id=import_id))


@bp.get("/imports/<int:import_id>/<run>.csv")
@role_required("supervisor")
def download_report(import_id: int, run: str):
    record = _find_import(import_id)
    if record is None or run not in REPORT_RUNS:
        return _not_found()
    job_id = record.check_job_id if run == "check" else record.import_job_id
    job = db.session.get(Job, job_id) if job_id else None
    if job is None or job.status != SUCCEEDED:
        return error_response(409, "report_not_ready",
                              N_("This report is ready once its job has finished. Wait for it "
                                 "on the import's page."))
    name = f"import-{record.id}-{REPORT_RUNS[run]}.csv"
    return Response(stream_with_context(report.report_chunks(job.id)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.app_template_filter("import_layout")
def import_layout(layout: str) -> str:
    return _(LAYOUTS[layout]) if layout in LAYOUTS else layout

