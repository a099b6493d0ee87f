"""The one domain error: every refusal (a scan, a correction, an account change, an import, a
request body) is a DomainError with its contract code, a message that says what to do next,
and its HTTP status. One handler (app/errors.py) turns it into the JSON error shape under
/api and into a page elsewhere, so no view maps errors by hand.

Plain Python: the rule book (app/rules/) raises these and knows no Flask."""

from __future__ import annotations

# The roles, lowest first (DESIGN section 1); the models and the configuration both need them.
ROLES = ("staff", "supervisor", "admin")

# The HTTP status of every refusal code, in one table (DESIGN.md sections 5, 6 and 8). A code
# missing here is a 409 (a conflict with the state of things).
STATUS = {
    # the request itself
    "invalid_json": 400, "unknown_field": 422, "invalid_input": 422, "invalid_station": 422,
    "invalid_force": 422, "invalid_filter": 422, "invalid_cursor": 422, "reason_required": 422,
    # codes and scans (section 5)
    "invalid_code": 422, "invalid_scan_id": 422, "invalid_scanned_at": 422,
    "parent_not_found": 404, "bag_not_found": 404,
    # dispatches (section 8.2)
    "dispatch_not_found": 404,
    "not_your_scan": 403, "forbidden": 403,
    "database_busy": 503,
    # imports
    "import_not_found": 404, "upload_gone": 410,
    # accounts and users (a refusal about what was typed is 422, about the state is 409)
    "user_not_found": 404, "invalid_display_name": 422, "invalid_is_active": 422,
    "invalid_password": 422, "invalid_role": 422, "invalid_username": 422, "no_changes": 422,
    "same_password": 422, "weak_password": 422, "wrong_password": 422,
    "invalid_language": 422, "invalid_timezone": 422,
    # sites (section 8.5)
    "site_not_found": 404, "site_exists": 409, "bag_at_other_site": 409,
    "not_at_origin": 409, "not_destination": 409, "site_not_allowed": 403,
}


def N_(message: str) -> str:
    """Marks an English message for the catalogs (pybabel extract); translated where shown."""
    return message


class Text(str):
    """An English message made from a template and its values: it reads as the English text
    everywhere (logs, stored reasons, tests), and keeps the template so that the one error
    handler can say it in the request's language (app/i18n.py translate). pybabel extracts
    the first argument of Text(...) like a gettext call."""

    template: str
    params: dict

    def __new__(cls, template: str, **params) -> Text:
        text = super().__new__(cls, template % params if params else template)
        text.template = template
        text.params = params
        return text


class DomainError(Exception):
    """A refused request. `details` become extra fields of the JSON error (never secrets)."""

    def __init__(self, code: str, message: str, status: int | None = None, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS.get(code, 409)
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"
