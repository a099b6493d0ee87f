"""The access matrix (tests/security/test_access_matrix.py runs it; the CSRF and header
sweeps reuse it): every rule and method of app.url_map with a concrete request and the answer
expected for anonymous, staff, supervisor and admin (DESIGN.md sections 1 and 6). A new
route gets its row here.

Answers: "login" = a redirect to /login (pages); 401/403 = refused (JSON under /api, a page
elsewhere); "2xx"/"3xx" = served; an exact number where the answer is known exactly."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.helpers import NEW_PASSWORD, PASSWORD, SMALL_CSV

LOGIN = "login"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Route:
    path: str  # may hold {job_id}, {import_id} and {series_id}
    anonymous: object
    staff: object
    supervisor: object
    admin: object
    form: dict | None = None
    json: dict | None = None
    upload: bool = False  # multipart form with a small CSV as `file`
    note: str = ""
    query: dict = field(default_factory=dict)
    audits: bool = False  # a served GET that writes its audit row (label downloads, DESIGN 8.3)

    def expected(self, role: str):
        return getattr(self, role)


def admin_page(path, answer=200, **kwargs):
    return Route(path, LOGIN, 403, 403, answer, **kwargs)


def supervisor_page(path, answer=200, **kwargs):
    return Route(path, LOGIN, 403, answer, answer, **kwargs)


def supervisor_api(path, answer=200, **kwargs):
    return Route(path, 401, 403, answer, answer, **kwargs)


def everyone_page(path, answer=200, **kwargs):
    return Route(path, LOGIN, answer, answer, answer, **kwargs)


def everyone_api(path, answer=200, **kwargs):
    return Route(path, 401, answer, answer, answer, **kwargs)


def public(path, answer=200, **kwargs):
    return Route(path, answer, answer, answer, answer, **kwargs)


# (rule, method) -> the request and its expected answers. One row per rule and method.
ROUTES: dict[tuple[str, str], Route] = {
    # --- auth -------------------------------------------------------------------------
    ("/", "GET"): everyone_page("/", "3xx", note="redirects by role"),
    ("/login", "GET"): Route("/login", 200, "3xx", "3xx", "3xx",
                             note="a logged-in user is sent to the start page"),
    ("/login", "POST"): public("/login", 302, form={"username": "the-staff",
                                                    "password": PASSWORD}),
    ("/logout", "POST"): public("/logout", 302, note="anonymous: nothing to end, back to login"),
    # Nothing pending (no password checked in this session): back to the login page, or
    # the start page when logged in (tests/auth/test_two_factor.py covers the steps).
    ("/login/two-factor", "GET"): Route("/login/two-factor", LOGIN, "3xx", "3xx", "3xx"),
    ("/login/two-factor", "POST"): Route("/login/two-factor", LOGIN, "3xx", "3xx", "3xx",
                                         form={"code": "123456"}),
    ("/login/two-factor/setup", "GET"): Route("/login/two-factor/setup", LOGIN, "3xx", "3xx",
                                              "3xx"),
    ("/login/two-factor/setup", "POST"): Route("/login/two-factor/setup", LOGIN, "3xx",
                                               "3xx", "3xx", form={"code": "123456"}),
    # --- health and metrics -------------------------------------------------------------
    ("/health", "GET"): public("/health"),
    ("/health/ready", "GET"): public("/health/ready"),
    ("/metrics", "GET"): public("/metrics", note="METRICS_TOKEN unset: open to this host "
                                                 "only (test_observability covers others)"),
    ("/static/<path:filename>", "GET"): public("/static/css/app.css"),
    # --- scanning ---------------------------------------------------------------------------
    ("/scan", "GET"): everyone_page("/scan?parent=SB00001"),
    ("/scan", "POST"): everyone_page("/scan", 302, form={"code": "SB00010"}),
    ("/scan/commands", "GET"): everyone_page("/scan/commands"),
    ("/api/v1/scans/parent", "POST"): everyone_api("/api/v1/scans/parent", 201,
                                                  json={"code": "SB00010"}),
    ("/api/v1/scans/child", "POST"): everyone_api("/api/v1/scans/child", 201,
                                                 json={"parent": "SB00002", "code": "0099999"}),
    ("/api/v1/scans/batch", "POST"): everyone_api(
        "/api/v1/scans/batch", 200, json={"parent": "SB00002", "items": [{"code": "0099998"}]}),
    ("/api/v1/scans/undo", "POST"): everyone_api(
        "/api/v1/scans/undo", 200, json={"code": "0016586"},
        note="staff may undo their own link in an open parent; the-staff made this one"),
    ("/api/v1/parents/<code>/complete", "POST"): everyone_api(
        "/api/v1/parents/SB00002/complete", 200, json={"force": True}),
    ("/api/v1/parents/<code>/reopen", "POST"): supervisor_api(
        "/api/v1/parents/SB00003/reopen"),
    ("/api/v1/session", "GET"): everyone_api("/api/v1/session"),
    # --- the API's own reference (issue 19): no login, it holds no data --------------------------
    ("/api/v1/openapi.json", "GET"): public("/api/v1/openapi.json"),
    ("/api/docs", "GET"): public("/api/docs"),
    # --- bags ---------------------------------------------------------------------------------
    ("/bags", "GET"): everyone_page("/bags?kind=parent"),
    ("/bags/find", "GET"): everyone_page("/bags/find?code=sb00001", 302),
    ("/bags/<code>", "GET"): everyone_page("/bags/SB00001"),
    ("/bags/export.csv", "GET"): supervisor_page("/bags/export.csv"),
    ("/bags/export.xlsx", "GET"): supervisor_page("/bags/export.xlsx"),
    ("/bags/<code>/unlink", "POST"): supervisor_page(
        "/bags/0016586/unlink", 302, form={"unlink-reason": "wrong parent"}),
    ("/bags/<code>/move", "POST"): supervisor_page(
        "/bags/0016586/move", 302, form={"move-parent": "SB00002", "move-reason": "wrong parent"}),
    ("/bags/<code>/complete", "POST"): supervisor_page(
        "/bags/SB00002/complete", 302, form={"complete-reason": "short fill"}),
    ("/bags/<code>/reopen", "POST"): supervisor_page(
        "/bags/SB00003/reopen", 302, form={"reopen-reason": "one more"}),
    ("/bags/<code>/delete", "POST"): supervisor_page(
        "/bags/0055555/delete", 302, form={"delete-reason": "misprint"}),
    ("/api/v1/bags", "GET"): everyone_api("/api/v1/bags?kind=child"),
    ("/api/v1/bags/<code>", "GET"): everyone_api("/api/v1/bags/SB00001"),
    ("/api/v1/bags/<code>", "DELETE"): supervisor_api("/api/v1/bags/0055555",
                                                      json={"reason": "misprint"}),
    ("/api/v1/bags/<code>/unlink", "POST"): supervisor_api("/api/v1/bags/0016586/unlink",
                                                           json={"reason": "wrong parent"}),
    ("/api/v1/bags/<code>/move", "POST"): supervisor_api(
        "/api/v1/bags/0016586/move", json={"parent": "SB00002", "reason": "wrong parent"}),
    ("/api/v1/bags/<code>/complete", "POST"): supervisor_api("/api/v1/bags/SB00002/complete",
                                                             json={"reason": "short fill"}),
    ("/api/v1/bags/<code>/reopen", "POST"): supervisor_api("/api/v1/bags/SB00003/reopen",
                                                           json={"reason": "one more bag"}),
    # --- dispatches (the world: D000001 loading with SB00006, D000002 dispatched with
    # SB00007; SB00008 complete and on none) --------------------------------------------
    ("/api/v1/dispatches", "POST"): supervisor_api("/api/v1/dispatches", 201, json={
        "destination": "Pune", "vehicle_number": "MH12AB1234", "expected_parents": 2}),
    ("/api/v1/dispatches", "GET"): everyone_api("/api/v1/dispatches?status=loading"),
    ("/api/v1/dispatches/<path:code>", "GET"): everyone_api("/api/v1/dispatches/D000001"),
    ("/api/v1/dispatches/<path:code>/parents", "POST"): everyone_api(
        "/api/v1/dispatches/D000001/parents", 201, json={"code": "SB00008"}),
    ("/api/v1/dispatches/<path:code>/unload", "POST"): everyone_api(
        "/api/v1/dispatches/D000001/unload", json={"code": "SB00006"}),
    ("/api/v1/dispatches/<path:code>/dispatch", "POST"): supervisor_api(
        "/api/v1/dispatches/D000001/dispatch", json={"reason": "one parent not ready"}),
    ("/api/v1/dispatches/<path:code>/reopen", "POST"): supervisor_api(
        "/api/v1/dispatches/D000002/reopen", json={"reason": "wrong truck"}),
    ("/api/v1/dispatches/<path:code>/cancel", "POST"): supervisor_api(
        "/api/v1/dispatches/D000001/cancel", json={"reason": "truck broke down"}),
    ("/api/v1/dispatches/<path:code>/returns", "POST"): supervisor_api(
        "/api/v1/dispatches/D000002/returns", json={"parent": "SB00007", "reason": "torn"}),
    ("/dispatches", "GET"): everyone_page("/dispatches?status=loading&q=D0"),
    ("/dispatches/new", "GET"): supervisor_page("/dispatches/new"),
    ("/dispatches/new", "POST"): supervisor_page("/dispatches/new", 303, form={
        "vehicle_number": "MH12AB1234", "destination": "Pune", "expected_parents": "2"}),
    ("/dispatches/<path:code>", "GET"): everyone_page("/dispatches/D000001"),
    ("/dispatches/<path:code>/load", "POST"): everyone_page(
        "/dispatches/D000001/load", 302, form={"load-code": "SB00008"}),
    ("/dispatches/<path:code>/unload", "POST"): everyone_page(
        "/dispatches/D000001/unload", 302, form={"unload-code": "SB00006"}),
    ("/dispatches/<path:code>/dispatch", "POST"): supervisor_page(
        "/dispatches/D000001/dispatch", 302, form={"send-reason": "one parent not ready"}),
    ("/dispatches/<path:code>/reopen", "POST"): supervisor_page(
        "/dispatches/D000002/reopen", 302, form={"reopen-reason": "wrong truck"}),
    ("/dispatches/<path:code>/cancel", "POST"): supervisor_page(
        "/dispatches/D000001/cancel", 302, form={"cancel-reason": "truck broke down"}),
    ("/dispatches/<path:code>/returns", "POST"): supervisor_page(
        "/dispatches/D000002/returns", 302, form={"returns-parent": "SB00007",
                                                  "returns-reason": "torn sack"}),
    # Transfers (issue 21): D000002 goes to no site, so it is not received anywhere.
    ("/dispatches/<path:code>/receive", "GET"): supervisor_page("/dispatches/D000002/receive"),
    ("/dispatches/<path:code>/receive", "POST"): supervisor_page(
        "/dispatches/D000002/receive", 302, form={"receive-code": "SB00007"}),
    ("/api/v1/dispatches/<path:code>/receive", "POST"): supervisor_api(
        "/api/v1/dispatches/D000002/receive", 409, json={"code": "SB00007"}),
    # --- dashboard ----------------------------------------------------------------------------
    ("/dashboard", "GET"): supervisor_page("/dashboard"),
    ("/api/v1/dashboard/stats", "GET"): supervisor_api("/api/v1/dashboard/stats"),
    ("/api/v1/dashboard/activity", "GET"): supervisor_api("/api/v1/dashboard/activity"),
    # --- jobs ---------------------------------------------------------------------------------
    ("/jobs", "GET"): everyone_page("/jobs", note="staff see only their own jobs"),
    ("/jobs/<int:job_id>", "GET"): Route("/jobs/{job_id}", LOGIN, 404, 200, 200,
                                         note="another's job is hidden from staff: 404"),
    ("/jobs/verify-bags", "POST"): supervisor_page("/jobs/verify-bags", 302),
    ("/api/v1/jobs/<int:job_id>", "GET"): Route("/api/v1/jobs/{job_id}", 401, 404, 200, 200,
                                                note="another's job is hidden from staff"),
    # --- imports ------------------------------------------------------------------------------
    ("/imports", "GET"): supervisor_page("/imports"),
    ("/imports", "POST"): supervisor_page("/imports", 302, upload=True),
    ("/imports/<int:import_id>", "GET"): supervisor_page("/imports/{import_id}"),
    ("/imports/<int:import_id>/<run>.csv", "GET"): supervisor_page(
        "/imports/{import_id}/check.csv"),
    ("/imports/<int:import_id>/confirm", "POST"): supervisor_page(
        "/imports/{import_id}/confirm", 302),
    ("/api/v1/imports/<int:import_id>", "GET"): supervisor_api("/api/v1/imports/{import_id}"),
    # --- labels (issue 22) -------------------------------------------------------------------
    ("/labels", "GET"): supervisor_page("/labels"),
    ("/labels", "POST"): supervisor_page("/labels", 303, form={"prefix": "SB", "count": "3"}),
    ("/labels/<int:series_id>.pdf", "GET"): supervisor_page(
        "/labels/{series_id}.pdf?layout=a4-4x10&skip=2", audits=True),
    ("/labels/<int:series_id>.zpl", "GET"): supervisor_page("/labels/{series_id}.zpl?dpi=300",
                                                            audits=True),
    ("/labels/<int:series_id>/print", "POST"): supervisor_page(
        "/labels/{series_id}/print", 409, form={"dpi": "203"},
        note="no LABEL_PRINTER_URL in the tests: refused, nothing changes"),
    ("/bags/<code>/label.pdf", "GET"): supervisor_page("/bags/SB00001/label.pdf", audits=True),
    ("/api/v1/labels/series", "POST"): supervisor_api("/api/v1/labels/series", 201,
                                                      json={"prefix": "SB", "count": 3}),
    ("/scan/commands.pdf", "GET"): everyone_page("/scan/commands.pdf"),
    # --- dispatch documents (the world's D000001 loading, D000002 dispatched) -------------
    ("/dispatches/<path:code>/manifest.pdf", "GET"): everyone_page(
        "/dispatches/D000002/manifest.pdf", note="staff and above read dispatches"),
    ("/dispatches.csv", "GET"): everyone_page("/dispatches.csv"),
    ("/dispatches.xlsx", "GET"): everyone_page("/dispatches.xlsx"),
    ("/dispatches/<path:code>/parents.csv", "GET"): everyone_page(
        "/dispatches/D000001/parents.csv"),
    ("/dispatches/<path:code>/parents.xlsx", "GET"): everyone_page(
        "/dispatches/D000001/parents.xlsx"),
    # --- users and audit (admin) ------------------------------------------------------------
    ("/users", "GET"): admin_page("/users?role=staff"),
    ("/users/new", "GET"): admin_page("/users/new"),
    ("/users/new", "POST"): admin_page("/users/new", 303, form={
        "username": "newbie", "role": "staff", "password": NEW_PASSWORD}),
    ("/users/<username>", "GET"): admin_page("/users/target"),
    ("/users/<username>", "POST"): admin_page("/users/target", 303, form={
        "edit-display_name": "T", "edit-role": "supervisor"}),
    ("/users/<username>/password", "POST"): admin_page(
        "/users/target/password", 303, form={"reset-password": NEW_PASSWORD}),
    ("/users/<username>/deactivate", "POST"): admin_page(
        "/users/target/deactivate", 303, form={"deactivate-submit": "y"}),
    ("/users/<username>/reactivate", "POST"): admin_page(
        "/users/sleeper/reactivate", 303, form={"reactivate-submit": "y"}),
    ("/users/<username>/logout-everywhere", "POST"): admin_page(
        "/users/target/logout-everywhere", 303, form={"sessions-submit": "y"}),
    ("/users/<username>/two-factor/reset", "POST"): admin_page(
        "/users/target/two-factor/reset", 409, form={"twofactor-submit": "y"},
        note="target has no second factor: refused, nothing changes"),
    ("/audit", "GET"): admin_page("/audit?action=user."),
    ("/users/<username>/sites", "POST"): admin_page(
        "/users/target/sites", 303, form={"sites-sites": "MAIN"}),
    # --- sites (issue 21) ---------------------------------------------------------------------
    ("/sites", "GET"): admin_page("/sites"),
    ("/dashboard/sites", "GET"): admin_page("/dashboard/sites"),
    ("/api/v1/dashboard/sites", "GET"): Route("/api/v1/dashboard/sites", 401, 403, 403, 200),
    ("/sites", "POST"): admin_page("/sites", 303, form={
        "code": "PUNE", "name": "Pune depot", "timezone": "Asia/Kolkata"}),
    ("/sites/<code>", "GET"): admin_page("/sites/MAIN"),
    ("/sites/<code>", "POST"): admin_page("/sites/MAIN", 303, form={
        "name": "Main warehouse", "timezone": "Asia/Kolkata"}),
    ("/site", "GET"): everyone_page("/site"),
    ("/site", "POST"): everyone_page("/site", 303, form={"site": "MAIN"}),
    ("/api/v1/sites", "GET"): Route("/api/v1/sites", 401, 403, 403, 200),
    ("/api/v1/sites", "POST"): Route("/api/v1/sites", 401, 403, 403, 201, json={
        "code": "PUNE", "name": "Pune depot", "timezone": "Asia/Kolkata"}),
    ("/api/v1/sites/<code>", "PATCH"): Route("/api/v1/sites/MAIN", 401, 403, 403, 200,
                                             json={"timezone": "Asia/Kolkata"}),
    ("/api/v1/session/site", "POST"): everyone_api("/api/v1/session/site", 200,
                                                   json={"site": "MAIN"}),
    ("/api/v1/users", "GET"): Route("/api/v1/users", 401, 403, 403, 200),
    ("/api/v1/users", "POST"): Route("/api/v1/users", 401, 403, 403, 201, json={
        "username": "newbie", "role": "staff", "password": NEW_PASSWORD}),
    ("/api/v1/users/<username>", "PATCH"): Route("/api/v1/users/target", 401, 403, 403, 200,
                                                 json={"role": "supervisor"}),
    ("/account/tokens", "GET"): everyone_page("/account/tokens"),
    ("/account/tokens", "POST"): everyone_page("/account/tokens", 200, form={
        "name": "erp", "scopes": "scan", "expires_in_days": "30", "current_password": PASSWORD},
        note="the new token is shown once (200); tests/api_tokens covers refusals"),
    ("/account/tokens/<int:token_id>/revoke", "POST"): Route(
        "/account/tokens/1/revoke", LOGIN, 404, 404, 404,
        note="the world holds no token: 404 for everyone; tests/api_tokens covers revoking"),
    ("/account", "GET"): everyone_page("/account"),
    ("/account", "POST"): everyone_page("/account", 303, form={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD}),
    # --- languages (issue 23) ---------------------------------------------------------
    ("/account/preferences", "POST"): everyone_page("/account/preferences", 303, form={
        "language": "hi", "timezone": "Asia/Kolkata"}),
    ("/language", "POST"): public("/language", 303, form={"language": "hi", "next": "/bags"},
                                  note="the switch in the navigation, also before login"),
}

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def url_map_routes(app) -> set[tuple[str, str]]:
    return {(rule.rule, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - IGNORED_METHODS}


def send(client, route: Route, world, method: str, headers: dict | None = None):
    path = route.path.format(job_id=world.job_id, import_id=world.import_id,
                             series_id=world.series_id)
    kwargs = {"headers": headers} if headers else {}
    if route.json is not None:
        kwargs["json"] = route.json
    elif route.upload:
        kwargs["data"] = {**(route.form or {}), "file": (io.BytesIO(SMALL_CSV), "bags.csv")}
        kwargs["content_type"] = "multipart/form-data"
    elif route.form is not None:
        kwargs["data"] = route.form
    return client.open(path, method=method, **kwargs)


def answer_matches(response, expected) -> bool:
    status = response.status_code
    if expected == LOGIN:
        location = response.headers.get("Location", "")
        return status == 302 and urlsplit(location).path == "/login"
    if expected in ("2xx", "3xx"):
        if status // 100 != int(expected[0]):
            return False
        return status // 100 != 3 or urlsplit(response.headers["Location"]).path != "/login"
    return status == expected
