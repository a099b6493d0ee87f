"""/audit: admins read the trail of administrative changes, newest first."""

from flask import Blueprint, render_template, request

from app.audit.forms import AuditFilterForm
from app.audit.services import ACTIONS, AuditPage, AuditQueryError, list_audit_events
from app.auth.decorators import role_required
from app.errors import error_response

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
        try:
            page = list_audit_events(
                actor=filters.actor.data, action=filters.action.data,
                target=filters.target.data, date_from=filters.date_from.data,
                date_to=filters.date_to.data, cursor=request.args.get("cursor") or None)
        except AuditQueryError as error:
            return error_response(400, "invalid_cursor", str(error))
        status = 200
    applied = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    return render_template("audit/index.html", filters=filters, page=page, applied=applied,
                           actions=ACTIONS, paged=bool(request.args.get("cursor"))), status
