"""/audit: admins read the trail of administrative changes, newest first."""

from flask import Blueprint, render_template, request

from app.audit.forms import AuditFilterForm
from app.audit.services import ACTIONS, AuditPage, list_audit_events
from app.auth.decorators import role_required

bp = Blueprint("audit", __name__)

FILTERS = ("actor", "action", "target", "date_from", "date_to")


@bp.get("/audit")
@role_required("admin")
def show_audit():
    filters = AuditFilterForm(request.args)
    if request.args and not filters.validate():
        page = AuditPage([], None)
        status = 422
    else:
        # A damaged cursor is a DomainError: the one handler answers it (422).
        page = list_audit_events(
            actor=filters.actor.data, action=filters.action.data,
            target=filters.target.data, date_from=filters.date_from.data,
            date_to=filters.date_to.data, cursor=request.args.get("cursor") or None)
        status = 200
    applied = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    return render_template("audit/index.html", filters=filters, page=page, applied=applied,
                           actions=ACTIONS, paged=bool(request.args.get("cursor"))), status
