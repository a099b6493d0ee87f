"""Labels pages (issue 22): /labels (reserve a series, the series so far, printing), the PDF
sheets and ZPL of a series, sending it to the label printer, and one bag's label. Downloads
are for supervisors and admins, and every one is audited."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.auth.decorators import role_required
from app.domain import DomainError, Text
from app.extensions import db
from app.i18n import number, translate
from app.jobs.gate import heavy_requests
from app.jobs.runner import wake
from app.jobs.words import describe_all
from app.labels import printing, services, sheets, zpl
from app.labels.forms import PrintForm, SeriesForm
from app.models import Job

bp = Blueprint("labels", __name__)


def _page(form: SeriesForm, status: int = 200):
    printer = None
    try:
        printer = printing.configured_printer()
    except DomainError as error:
        flash(translate(error.message), "warning")
    jobs = db.session.scalars(select(Job).where(Job.kind == printing.LABEL_PRINT)
                              .order_by(Job.id.desc()).limit(5)).all()
    return render_template(
        "labels/index.html", form=form, print_form=PrintForm(), rows=services.recent_series(),
        layouts=sheets.LAYOUTS.values(), printer=printer, print_jobs=describe_all(jobs),
        dpis=zpl.DPIS), status


@bp.get("/labels")
@role_required("supervisor")
def show_labels():
    return _page(SeriesForm())


@bp.post("/labels")
@role_required("supervisor")
def reserve_series():
    form = SeriesForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        reserved = services.reserve_series(current_user, form.prefix.data, form.count.data)
    except DomainError as error:
        db.session.rollback()
        if error.code != "invalid_input" and error.status != 409:
            raise
        getattr(form, error.details.get("field", "prefix"), form.prefix).errors.append(
            translate(error.message))
        return _page(form, error.status)
    db.session.commit()
    series = reserved.series
    flash(_("Reserved %(count)s codes: %(first)s to %(last)s.", count=number(series.count),
            first=series.first_code, last=series.last_code), "success")
    return redirect(url_for("labels.show_labels", _anchor=f"series-{series.id}"), 303)


def _document(body: bytes | str, mimetype: str, filename: str, inline: bool) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'{"inline" if inline else "attachment"}; filename="{filename}"')
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/labels/<int:series_id>.pdf")
@role_required("supervisor")
@heavy_requests.limit
def series_pdf(series_id: int):
    series = services.get_series(series_id)
    layout = sheets.parse_layout(request.args.get("layout"))
    skip = sheets.parse_skip(request.args.get("skip"), layout)
    codes = services.series_codes(series.id)
    body = sheets.render_sheet(sheets.code_labels(codes), layout, skip,
                               title=_("Labels %(first)s to %(last)s", first=series.first_code,
                                       last=series.last_code))
    services.audit_download(current_user, services.DOWNLOAD, "label_series", series.id,
                            format="pdf", layout=layout.name, skip=skip, labels=len(codes))
    db.session.commit()
    return _document(body, "application/pdf",
                     f"labels-{series.first_code}-{series.last_code}-{layout.name}.pdf", True)


@bp.get("/labels/<int:series_id>.zpl")
@role_required("supervisor")
def series_zpl(series_id: int):
    series = services.get_series(series_id)
    dpi = zpl.parse_dpi(request.args.get("dpi"))
    codes = services.series_codes(series.id)
    body = zpl.zpl_labels(codes, dpi)
    services.audit_download(current_user, services.DOWNLOAD, "label_series", series.id,
                            format="zpl", dpi=dpi, labels=len(codes))
    db.session.commit()
    return _document(body, "text/plain", f"labels-{series.first_code}-{series.last_code}"
                                         f"-{dpi}dpi.zpl", False)


@bp.post("/labels/<int:series_id>/print")
@role_required("supervisor")
def print_series(series_id: int):
    series = services.get_series(series_id)
    form = PrintForm()
    if not form.validate_on_submit():
        raise DomainError("invalid_input", Text("Choose the printer's resolution: 203 or 300 "
                                                "dpi."), field="dpi")
    job = printing.start_print(current_user, series, int(form.dpi.data))
    db.session.commit()
    wake()
    flash(_("Sending %(count)s labels (%(first)s to %(last)s) to the label printer as job "
            "%(job)s.", count=number(series.count), first=series.first_code,
            last=series.last_code, job=job.id), "info")
    return redirect(url_for("jobs.show_job", job_id=job.id), 303)


@bp.get("/bags/<code>/label.pdf")
@role_required("supervisor")
def bag_label(code: str):
    stored = services.known_bag_code(code)
    layout = sheets.parse_layout(request.args.get("layout") or "single")
    skip = sheets.parse_skip(request.args.get("skip"), layout)
    body = sheets.render_sheet(sheets.code_labels([stored]), layout, skip,
                               title=_("Label %(code)s", code=stored))
    services.audit_download(current_user, services.REPRINT, "bag", stored, format="pdf",
                            layout=layout.name, skip=skip)
    db.session.commit()
    return _document(body, "application/pdf", f"label-{stored}.pdf", True)
