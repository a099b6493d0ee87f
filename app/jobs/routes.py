"""Background jobs: a page listing one's jobs, a page per job with its progress, and the
JSON status the page polls."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth.decorators import role_required
from app.auth.forms import EmptyForm
from app.extensions import db
from app.jobs.queue import enqueue
from app.jobs.runner import wake
from app.jobs.services import visible_job
from app.jobs.words import describe_all, import_sentence, state_words
from app.models import Job
from app.scanning.jobs import VERIFY_BAGS

bp = Blueprint("jobs", __name__)
bp.add_app_template_global(import_sentence, "import_sentence")


@bp.app_template_filter("job_state")
def job_state(status: str) -> str:
    return state_words(status)


@bp.get("/jobs")
@login_required
def list_jobs():
    query = select(Job).order_by(Job.id.desc()).limit(100)
    if not current_user.has_role("supervisor"):
        query = query.where(Job.created_by_id == current_user.id)
    return render_template("jobs/list.html", jobs=describe_all(db.session.scalars(query).all()),
                           form=EmptyForm())


@bp.get("/jobs/<int:job_id>")
@login_required
def show_job(job_id: int):
    job = visible_job(job_id)
    if job is None:
        return render_template("errors/error.html", status=404, code="job_not_found",
                               message=_("There is no such job, or it is not yours."),
                               request_id=""), 404
    return render_template("jobs/show.html", job=job, words=describe_all([job])[0][1])


@bp.post("/jobs/verify-bags")
@role_required("supervisor")
def start_verify_bags():
    job = enqueue(VERIFY_BAGS, {}, current_user)
    db.session.commit()
    wake()
    flash(_("Check of every parent's count started as job %(id)s.", id=job.id), "info")
    return redirect(url_for("jobs.show_job", job_id=job.id))
