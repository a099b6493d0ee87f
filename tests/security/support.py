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
    path: str  # may hold {job_id} and {import_id}
    anonymous: object
    staff: object
    supervisor: object
    admin: object
    form: dict | None = None
    json: dict | None = None
    upload: bool = False  # multipart form with a small CSV as `file`
    note: str = ""
    query: dict = field(default_factory=dict)

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
    ("/api/v1/scans/undo", "POST"): everyone_api(
        "/api/v1/scans/undo", 200, json={"code": "0016586"},
        note="staff may undo their own link in an open parent; the-staff made this one"),
    ("/api/v1/parents/<code>/complete", "POST"): everyone_api(
        "/api/v1/parents/SB00002/complete", 200, json={"force": True}),
    ("/api/v1/parents/<code>/reopen", "POST"): supervisor_api(
        "/api/v1/parents/SB00003/reopen"),
    ("/api/v1/session", "GET"): everyone_api("/api/v1/session"),
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
    ("/api/v1/users", "GET"): Route("/api/v1/users", 401, 403, 403, 200),
    ("/api/v1/users", "POST"): Route("/api/v1/users", 401, 403, 403, 201, json={
        "username": "newbie", "role": "staff", "password": NEW_PASSWORD}),
    ("/api/v1/users/<username>", "PATCH"): Route("/api/v1/users/target", 401, 403, 403, 200,
                                                 json={"role": "supervisor"}),
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


def send(client, route: Route, world, method: str):
    path = route.path.format(job_id=world.job_id, import_id=world.import_id)
    kwargs = {}
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
