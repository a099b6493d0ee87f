"""Issue 10, item 4: bad input. A corpus of scanner artefacts, injection strings, wrong
types, null, huge numbers, megabyte strings, malformed bodies, bodies over the limit and
unknown or forbidden fields, sent to every JSON endpoint and every form:

- the JSON API answers 4xx with {"error": {"code", "message"}} (never a 500) and the database
  is unchanged (a refused scan is kept as a 'rejected' scan event on purpose: the dashboard's
  exceptions feed; nothing else changes);
- forms answer as their page was designed (a 4xx page, or a redirect back with the refusal
  flashed, or the login page's one generic message), never a 500, and change nothing;
- free-text fields (station, reason, display name, password) may take any text, but what
  is shown on a page is escaped (the station's flashed message, the bag page, the
  dashboard's exceptions feed, the users and audit pages), and no header can be injected.

Decisions: in an optional field, null (and "" for scan_id and scanned_at) means "not
given". The JSON API refuses fields it does not take (422 unknown_field); HTML forms ignore
extra fields, and the tests show that a forbidden one (role, child_count, capacity) has no
effect."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Bag, User
from tests.helpers import PASSWORD
from tests.helpers import (NEW_PASSWORD, assert_unchanged, build_world, plain_login,
                                 snapshot)

XSS = '"><script>alert(1)</script>'
INJECTIONS = [XSS, "' OR 1=1--", "\r\nX-Injected: yes", "{{7*7}}${7*7}<%= 7*7 %>",
              "../../../../etc/passwd", "SB00001'; DROP TABLE bags;--", "%0d%0aX-Injected:%20yes",
              "\u202eSB00001", "<img src=x onerror=alert(1)>"]
SCANNER_ARTEFACTS = [" \t ", "\r\n", "\x1d\x00", "\u200b\u00a0\ufeff", "00165860016586",
                     "]C1SB00001", "\ud800SB00001", "SB00001SB00001", "\x1b[2J", "SB 00001"]
WRONG_TYPES = [16586, 1.5, True, False, [], ["0016586"], {}, {"code": "0016586"}]
HUGE_NUMBERS = [10**400, -(10**400), 1.7976931348623157e308]
MEGABYTE = "A" * 1_048_576
STRINGS = INJECTIONS + SCANNER_ARTEFACTS + [MEGABYTE, "0" * 300]
NON_STRINGS = WRONG_TYPES + HUGE_NUMBERS
MALFORMED_BODIES = [b'{"code": ', b"[]", b'"SB00001"', b"null", b"123", b"{'code': 'SB00001'}",
                    b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000,
                    b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b'{"code":' + b"9" * 5000 + b"}",
                    b"code=SB00001"]
FORBIDDEN_FIELDS = [{"role": "admin"}, {"child_count": 99}, {"capacity": 1},
                    {"is_admin": True}, {"password_hash": "x"}, {XSS: 1}]
LIMIT = 64 * 1024


def _id(value) -> str:
    text = repr(value)
    return text[:24] + (f"..{len(text)}" if len(text) > 24 else "")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    role: str
    base: dict
    strict: tuple = ()  # any bad value is refused
    free: tuple = ()  # any text may be taken; other types are refused
    optional: tuple = ()  # null (and "" for ids and times) means "not given"

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


JSON_ENDPOINTS = [
    Endpoint("POST", "/api/v1/scans/parent", "staff", {"code": "SB00009"}, ("code",),
             ("station",), ("station",)),
    Endpoint("POST", "/api/v1/scans/child", "staff", {"parent": "SB00002", "code": "0099999"},
             ("parent", "code", "scan_id", "scanned_at"), ("station",),
             ("scan_id", "scanned_at", "station")),
    Endpoint("POST", "/api/v1/scans/undo", "staff", {"parent": "SB00001"},
             ("parent", "code"), ("station",), ("code", "station")),
    Endpoint("POST", "/api/v1/parents/SB00002/complete", "staff", {"force": True},
             ("force",), ("station",), ("station",)),
    Endpoint("POST", "/api/v1/parents/SB00003/reopen", "supervisor", {}, (), ("station",),
             ("station",)),
    Endpoint("POST", "/api/v1/bags/0016586/unlink", "supervisor", {"reason": "wrong parent"},
             (), ("reason",)),
    Endpoint("POST", "/api/v1/bags/0016586/move", "supervisor",
             {"parent": "SB00002", "reason": "wrong parent"}, ("parent",), ("reason",)),
    Endpoint("POST", "/api/v1/bags/SB00002/complete", "supervisor", {"reason": "short fill"},
             (), ("reason",)),
    Endpoint("POST", "/api/v1/bags/SB00003/reopen", "supervisor", {"reason": "one more bag"},
             (), ("reason",)),
    Endpoint("DELETE", "/api/v1/bags/0055555", "supervisor", {"reason": "misprint"}, (),
             ("reason",)),
    Endpoint("POST", "/api/v1/labels/series", "supervisor", {"prefix": "SB", "count": 3},
             ("prefix", "count")),
    Endpoint("POST", "/api/v1/users", "admin",
             {"username": "newbie", "role": "staff", "password": NEW_PASSWORD},
             ("username", "role"), ("password", "display_name"), ("display_name",)),
    Endpoint("PATCH", "/api/v1/users/target", "admin", {}, ("role", "is_active"),
             ("password", "display_name"), ("display_name",)),
]
ENDPOINT_IDS = [endpoint.name for endpoint in JSON_ENDPOINTS]
FIELD_CASES = [(endpoint, name) for endpoint in JSON_ENDPOINTS
               for name in endpoint.strict + endpoint.free]


@pytest.fixture
def world(app, make_user):
    return build_world(make_user, app)


def _client(app, role):
    client = app.test_client()
    plain_login(client, role)
    return client


def assert_clear_json_refusal(response, context="") -> dict:
    assert 400 <= response.status_code < 500, (context, response.status_code,
                                               response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json", context
    error = response.get_json()["error"]
    assert error["code"] and isinstance(error["code"], str), context
    assert isinstance(error["message"], str) and len(error["message"]) >= 15, (context, error)
    assert "Traceback" not in error["message"]
    assert "X-Injected" not in response.headers
    return error


_LOOKS_VALID = {"scan_id": re.compile(r"[A-Za-z0-9._:-]{1,64}"),
               "username": re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")}


def looks_valid(name: str, value) -> bool:
    """A corpus string that happens to be a valid value of this field (00165860016586 is
    a fine scan_id and username): not bad input there."""
    if name in ("force", "is_active"):
        return isinstance(value, bool)
    pattern = _LOOKS_VALID.get(name.rsplit("-", 1)[-1])
    return (pattern is not None and isinstance(value, str)
            and pattern.fullmatch(value.strip().lower()) is not None)


def _bad_values(endpoint: Endpoint, name: str) -> list:
    values = [value for value in NON_STRINGS if not looks_valid(name, value)]
    if name in endpoint.strict:
        values += [value for value in STRINGS if not looks_valid(name, value)]
    if name not in endpoint.optional:
        values += [None, ""]
    return values


@pytest.mark.parametrize(("endpoint", "name"), FIELD_CASES,
                         ids=[f"{endpoint.name} {name}" for endpoint, name in FIELD_CASES])
def test_every_bad_value_in_every_field_is_refused_and_changes_nothing(
        app, world, endpoint, name):
    client = _client(app, endpoint.role)

    for value in _bad_values(endpoint, name):
        before = snapshot(ignore_rejected_scans=True)
        response = client.open(endpoint.path, method=endpoint.method,
                               json={**endpoint.base, name: value})
        context = f"{endpoint.name} {name}={_id(value)}"
        error = assert_clear_json_refusal(response, context)
        assert error["code"] not in ("internal_error", "csrf_failed"), context
        assert_unchanged(before, snapshot(ignore_rejected_scans=True))


@pytest.mark.parametrize(("endpoint", "name"),
                         [case for case in FIELD_CASES if case[1] in case[0].free],
                         ids=[f"{endpoint.name} {name}" for endpoint, name in FIELD_CASES
                              if name in endpoint.free])
def test_free_text_fields_take_any_text_without_a_500(app, world, endpoint, name):
    """Injection strings are text like any other here: taken (and escaped where shown, see
    below) or refused with a reason (too long, too short); never a 500."""
    client = _client(app, endpoint.role)

    for value in INJECTIONS + [MEGABYTE, "\x00\x1d\ud800"]:
        before = snapshot(ignore_rejected_scans=True)
        response = client.open(endpoint.path, method=endpoint.method,
                               json={**endpoint.base, name: value})
        context = f"{endpoint.name} {name}={_id(value)}"
        assert response.status_code < 500, (context, response.get_data(as_text=True)[:300])
        assert "X-Injected" not in response.headers
        if response.status_code >= 400:
            assert_clear_json_refusal(response, context)
            assert_unchanged(before, snapshot(ignore_rejected_scans=True))


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=ENDPOINT_IDS)
def test_malformed_bodies_are_refused_with_400(app, world, endpoint):
    client = _client(app, endpoint.role)

    for body in MALFORMED_BODIES:
        before = snapshot()
        content_type = ("application/x-www-form-urlencoded" if body == b"code=SB00001"
                        else "application/json")
        response = client.open(endpoint.path, method=endpoint.method, data=body,
                               content_type=content_type)
        error = assert_clear_json_refusal(response, f"{endpoint.name} {body[:20]!r}")
        assert response.status_code == 400
        assert error["code"] == "invalid_json"
        assert_unchanged(before, snapshot())


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=ENDPOINT_IDS)
def test_unknown_or_forbidden_fields_are_refused(app, world, endpoint):
    client = _client(app, endpoint.role)

    for extra in FORBIDDEN_FIELDS:
        if set(extra) & set(endpoint.strict + endpoint.free):
            continue  # a field this endpoint takes (role on the users API)
        before = snapshot()
        response = client.open(endpoint.path, method=endpoint.method,
                               json={**endpoint.base, **extra})
        error = assert_clear_json_refusal(response, f"{endpoint.name} {extra}")
        assert response.status_code == 422
        assert error["code"] == "unknown_field"
        assert_unchanged(before, snapshot())


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=ENDPOINT_IDS)
def test_bodies_over_the_limit_get_413(make_app, make_user, endpoint):
    application = make_app(MAX_CONTENT_LENGTH=LIMIT)
    with application.app_context():
        build_world(make_user, application)
        client = _client(application, endpoint.role)
        before = snapshot()

        response = client.open(endpoint.path, method=endpoint.method,
                               json={**endpoint.base, "code": "A" * (LIMIT + 1)})

        error = assert_clear_json_refusal(response)
        assert response.status_code == 413
        assert error["code"] == "payload_too_large"
        assert_unchanged(before, snapshot())


PATH_CODES = [quote(value, safe="") for value in INJECTIONS + ["A" * 3000, "%00", "..", "\x1d"]]
CODE_PATHS = [("POST", "/api/v1/parents/{}/complete", "staff", {"force": True}),
              ("POST", "/api/v1/parents/{}/reopen", "supervisor", {}),
              ("GET", "/api/v1/bags/{}", "staff", None),
              ("POST", "/api/v1/bags/{}/unlink", "supervisor", {"reason": "wrong parent"}),
              ("DELETE", "/api/v1/bags/{}", "supervisor", {"reason": "misprint"}),
              ("PATCH", "/api/v1/users/{}", "admin", {"role": "staff"})]


@pytest.mark.parametrize(("method", "template", "role", "body"), CODE_PATHS,
                         ids=[f"{m} {t}" for m, t, _, _ in CODE_PATHS])
def test_bad_codes_in_the_path_are_refused(app, world, method, template, role, body):
    client = _client(app, role)

    for code in PATH_CODES:
        before = snapshot(ignore_rejected_scans=True)
        kwargs = {"json": body} if body is not None else {}
        response = client.open(template.format(code), method=method, **kwargs)
        assert_clear_json_refusal(response, f"{method} {template} {code[:30]}")
        assert_unchanged(before, snapshot(ignore_rejected_scans=True))


QUERY_CASES = [("/api/v1/bags", "staff", ["kind", "status", "q", "created_from", "created_to",
                                           "user", "limit", "cursor"])]


@pytest.mark.parametrize("field", QUERY_CASES[0][2])
def test_bad_query_parameters_of_the_bag_list_api_are_refused_or_ignored(app, world, field):
    client = _client(app, "staff")

    for value in INJECTIONS + SCANNER_ARTEFACTS + ["A" * 5000, str(10**400), "-1", "1e999"]:
        value = value.replace("\ud800", "\ufffd")  # a URL cannot carry a lone surrogate
        response = client.get("/api/v1/bags", query_string={field: value})
        context = f"{field}={_id(value)}"
        assert response.status_code in (200, 422, 400), (context, response.status_code)
        if response.status_code != 200:
            assert_clear_json_refusal(response, context)


# --- forms -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Form:
    path: str
    role: str
    base: dict
    fields: tuple
    free: tuple = ()


FORMS = [
    Form("/login", "anonymous", {"username": "the-staff", "password": PASSWORD},
         ("username", "password", "next"), ("next",)),
    Form("/scan", "staff", {"parent": "SB00001", "code": "0077777"}, ("parent", "code")),
    Form("/account", "staff", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                               "confirm_password": NEW_PASSWORD},
         ("current_password", "new_password", "confirm_password")),
    Form("/users/new", "admin", {"username": "newbie", "role": "staff",
                                 "password": NEW_PASSWORD},
         ("username", "role", "password", "display_name"), ("password", "display_name")),
    Form("/users/target", "admin", {"edit-display_name": "T", "edit-role": "staff"},
         ("edit-display_name", "edit-role"), ("edit-display_name",)),
    Form("/users/target/password", "admin", {"reset-password": NEW_PASSWORD},
         ("reset-password",), ("reset-password",)),
    Form("/bags/0016586/move", "supervisor", {"move-parent": "SB00002",
                                              "move-reason": "wrong parent"},
         ("move-parent", "move-reason"), ("move-reason",)),
    Form("/bags/0016586/unlink", "supervisor", {"unlink-reason": "wrong parent"},
         ("unlink-reason",), ("unlink-reason",)),
    Form("/bags/SB00003/reopen", "supervisor", {"reopen-reason": "one more"},
         ("reopen-reason",), ("reopen-reason",)),
    Form("/labels", "supervisor", {"prefix": "SB", "count": "3"}, ("prefix", "count")),
]
FORM_STRINGS = INJECTIONS + SCANNER_ARTEFACTS + ["A" * 100_000, ""]


def _ok_form_answer(response, context) -> None:
    assert response.status_code < 500, (context, response.get_data(as_text=True)[:300])
    assert "X-Injected" not in response.headers, context
    location = response.headers.get("Location", "")
    assert "\r" not in location and "\n" not in location, context
    if response.status_code >= 400 and response.mimetype == "text/html":
        body = response.get_data(as_text=True)
        assert "Traceback" not in body
        assert re.search(r'data-error-code="|invalid-feedback|alert-danger|alert-warning', body), (
            context, "a refusal that says nothing")


@pytest.mark.parametrize(("form", "name"), [(form, name) for form in FORMS for name in form.fields],
                         ids=[f"{form.path} {name}" for form in FORMS for name in form.fields])
def test_every_form_field_takes_the_corpus_without_a_500(app, world, form, name):
    client = _client(app, form.role)

    for value in FORM_STRINGS:
        value = value.replace("\ud800", "\ufffd")  # a browser sends U+FFFD for it
        before = snapshot(ignore_rejected_scans=True)
        response = client.post(form.path, data={**form.base, name: value})
        context = f"{form.path} {name}={_id(value)}"
        _ok_form_answer(response, context)
        if form.path == "/login" and response.status_code == 302:
            client = _client(app, form.role)  # logged in (a safe next): log out again
        if name in form.free or looks_valid(name, value):
            continue  # text that may be taken; shown escaped (tests below)
        assert response.status_code not in (201, 303), (context, "a bad value was taken")
        after = snapshot(ignore_rejected_scans=True)
        if form.path in ("/login", "/account"):  # failed-login counters move on purpose
            before.pop("users"), after.pop("users")
        assert_unchanged(before, after)


def test_forbidden_form_fields_have_no_effect(app, world):
    staff = _client(app, "staff")

    staff.post("/account", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                 "confirm_password": NEW_PASSWORD, "role": "admin",
                                 "is_active": "0", "session_version": "1"})
    staff.post("/scan", data={"code": "SB00040", "capacity": "1", "child_count": "99",
                              "status": "complete", "kind": "child"})

    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "the-staff"))
    parent = db.session.scalar(select(Bag).where(Bag.code == "SB00040"))
    assert (user.role, user.is_active) == ("staff", True)
    assert (parent.kind, parent.status, parent.child_count, parent.capacity) == (
        "parent", "open", 0, 30)


def test_a_megabyte_import_that_is_not_a_supplier_file_is_refused(app, world):
    client = _client(app, "supervisor")
    import io

    for content, filename in [(b"\x00\xff" * 500_000, "bags.csv"), (b"", "empty.csv"),
                              (XSS.encode() * 10, XSS + ".csv"), (b"PK\x03\x04junk", "x.xlsx")]:
        before = snapshot()
        response = client.post("/imports", data={"file": (io.BytesIO(content), filename)},
                               content_type="multipart/form-data")
        _ok_form_answer(response, filename[:30])
        assert response.status_code == 422, (filename[:30], response.status_code)
        assert XSS not in response.get_data(as_text=True)
        assert_unchanged(before, snapshot())


@pytest.mark.parametrize("path", ["/bags/find?code=", "/bags?q=", "/bags?user=", "/bags?kind=",
                                  "/bags?created_from=", "/audit?date_from=", "/audit?actor=",
                                  "/users?q=", "/users?role=", "/scan?parent=", "/login?next="])
def test_query_strings_with_the_corpus_never_500_and_are_escaped(app, world, path):
    client = _client(app, "admin" if path.startswith(("/audit", "/users")) else "supervisor")
    if path.startswith("/login"):
        client = _client(app, "anonymous")

    for value in INJECTIONS + ["A" * 5000, "\x1d\x00"]:
        response = client.get(path + quote(value, safe=""))
        _ok_form_answer(response, f"{path}{_id(value)}")
        assert_escaped(response.get_data(as_text=True), present=False)


# --- what is shown is escaped ---------------------------------------------------------------

RAW = re.compile(r"<script>alert\(1\)|<img src=x onerror", re.IGNORECASE)
ESCAPED = re.compile(r"&lt;script&gt;alert\(1\)", re.IGNORECASE)


def assert_escaped(html: str, present: bool = True) -> None:
    assert not RAW.search(html), "an injected tag reached the page unescaped"
    if present:
        assert ESCAPED.search(html), "the injected text is not shown at all (test is void)"


def test_the_station_flash_shows_a_refused_code_escaped(app, world):
    client = _client(app, "staff")

    response = client.post("/scan", data={"parent": "SB00001", "code": XSS})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])

    assert page.status_code == 200
    assert_escaped(page.get_data(as_text=True))


def test_the_bag_page_and_dashboard_show_refused_codes_and_reasons_escaped(app, world):
    staff = _client(app, "staff")
    staff.post("/api/v1/scans/child", json={"parent": "SB00001", "code": XSS})
    supervisor = _client(app, "supervisor")
    moved = supervisor.post("/api/v1/bags/0016586/move",
                            json={"parent": "SB00002", "reason": XSS})
    assert moved.status_code == 200

    for path in ("/bags/SB00001", "/bags/0016586", "/dashboard"):
        page = supervisor.get(path)
        assert page.status_code == 200, path
        assert_escaped(page.get_data(as_text=True))
    feed = supervisor.get("/api/v1/dashboard/stats").get_json()["exceptions"]
    assert any("<SCRIPT>ALERT(1)" in (item["code"] or "") for item in feed)


def test_display_names_are_shown_escaped_everywhere(app, world):
    admin = _client(app, "admin")
    created = admin.post("/api/v1/users", json={"username": "mallory", "role": "staff",
                                                "password": NEW_PASSWORD, "display_name": XSS})
    assert created.status_code == 201
    mallory = app.test_client()
    assert mallory.post("/login", data={"username": "mallory",
                                        "password": NEW_PASSWORD}).status_code == 302
    mallory.post("/api/v1/scans/parent", json={"code": "SB00050"})
    mallory.post("/api/v1/scans/child", json={"parent": "SB00050", "code": "0050001"})

    for path in ("/users", "/users/mallory", "/audit", "/dashboard", "/bags/SB00050"):
        page = admin.get(path)
        assert page.status_code == 200, path
        assert_escaped(page.get_data(as_text=True), present=path in ("/users", "/users/mallory",
                                                                     "/audit"))
    page = mallory.get("/scan")
    assert_escaped(page.get_data(as_text=True), present=False)


def test_no_header_can_be_injected(app, world):
    client = _client(app, "staff")

    for path in ("/bags/find?code=" + quote("SB00001\r\nX-Injected: yes"),
                 "/bags/" + quote("SB00001\r\nX-Injected: yes"),
                 "/scan?parent=" + quote("SB00001\r\nX-Injected: yes")):
        response = client.get(path)
        assert response.status_code < 500
        assert "X-Injected" not in response.headers
        assert "\n" not in response.headers.get("Location", "")
    anonymous = app.test_client()
    response = anonymous.post("/login", data={"username": "the-staff", "password": PASSWORD,
                                              "next": "/scan\r\nX-Injected: yes"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/scan"
