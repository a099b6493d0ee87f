"""Pages and answers in each user's language and time zone (issue 23): Hindi by
Accept-Language and by the user's setting, the API's error.message translated while its
code stays, Indian number grouping, the switch in the navigation, and the dashboard's
"today" for a user in Asia/Kolkata while the server's zone is UTC, around midnight."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update

from app.dashboard import services as dashboard
from app.extensions import db
from app.models import ApiToken, Bag, ScanEvent, Site, User
from app.scanning import services as scanning
from tests.helpers import fill_parent, page_csrf_token
from app.scanning.transaction import run_scan

HINDI = {"Accept-Language": "hi"}
# ASCII words a Hindi page may show: the product's name, names of file formats and of what
# reads them (PDF, Excel, ZPL, QR, API), and the data itself (codes, usernames), which the
# test adds per page; "English" names itself in the switch.
ALLOWED = {"TraceTrack", "CSV", "XLSX", "PDF", "Excel", "ZPL", "QR", "API",
           "English"}  # English: its own name in the switch


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style", "title")
        self.texts += [value for name, value in attrs
                       if name in ("placeholder", "title", "aria-label", "alt") and value]

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style", "title") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


def english_words(html: str, data: set[str]) -> list[str]:
    """Words of two or more ASCII letters a reader sees, other than codes, numbers, the
    product's name and the given data (usernames, bag codes)."""
    parser = _Visible()
    parser.feed(html)
    words = []
    for shown in parser.texts:
        for token in re.findall(r"[A-Za-z0-9_./:-]+", shown):
            token = token.rstrip(".:")  # "mukesh:" in a history line is the username
            if any(ch.isdigit() for ch in token) or token in ALLOWED | data:
                continue  # a code (SB00001, 0016586), a number, a time
            if "/" in token or token == "UTC" or (":" in token and token.isupper()):
                continue  # a time zone's name (Asia/Kolkata), a command code (TT:FINISH)
            words += [word for word in re.findall(r"[A-Za-z]{2,}", token) if word not in data]
    return words


@pytest.fixture
def floor(app, make_user):
    """A supervisor whose setting is Hindi, a worker, a parent with children and a refused
    scan (the dashboard's exceptions and the bag's timeline)."""
    boss = make_user("mukesh", "supervisor", language="hi", timezone="Asia/Kolkata")
    worker = make_user("rekha", "staff")
    fill_parent(worker, "SB00001", ["0016586", "0016587", "0016588"])
    fill_parent(worker, "SB00002", [])
    with pytest.raises(scanning.ScanError):
        run_scan(scanning.scan_child, worker, "SB00002", "0016586")  # in another parent
    db.session.commit()
    return boss, worker


DATA = {"mukesh", "rekha", "MAIN", "Main", "warehouse"}  # and the site's code and name (data)
FLOOR_PAGES = ["/scan", "/scan?parent=SB00001", "/dashboard", "/bags", "/bags/SB00001",
               "/bags/0016586", "/bags/NOSUCH1", "/account", "/scan/commands"]


@pytest.mark.parametrize("path", FLOOR_PAGES)
def test_a_hindi_users_pages_have_no_english_left(client, login_as, floor, path):
    login_as(floor[0])
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 404), html[:300]
    assert '<html lang="hi">' in html
    assert english_words(html, DATA) == []
    assert re.search(r"[\u0900-\u097F]", html)  # Devanagari


@pytest.mark.parametrize("path", ["/login", "/scan", "/bags"])
def test_accept_language_hi_gives_hindi_pages(client, login_as, make_user, path):
    worker = make_user("rekha", "staff")
    if path != "/login":
        login_as(worker)
    html = client.get(path, headers=HINDI).get_data(as_text=True)
    assert '<html lang="hi">' in html
    assert english_words(html, DATA) == []


def test_without_a_setting_or_accept_language_the_default_language_speaks(client, make_user,
                                                                          login_as):
    login_as(make_user("rekha", "staff"))
    assert '<html lang="en">' in client.get("/scan").get_data(as_text=True)
    assert "Scan a PARENT bag to start" in client.get("/scan").get_data(as_text=True)


def test_default_language_hi_speaks_hindi_to_a_browser_that_asks_for_nothing(make_app):
    application = make_app(DEFAULT_LANGUAGE="hi")
    html = application.test_client().get("/login").get_data(as_text=True)
    assert '<html lang="hi">' in html and "लॉग इन" in html


def test_the_users_setting_wins_over_accept_language(client, login_as, make_user):
    login_as(make_user("rekha", "staff", language="en"))
    assert '<html lang="en">' in client.get("/scan", headers=HINDI).get_data(as_text=True)


def test_the_api_says_a_refusal_in_hindi_and_keeps_its_code(client, login_as, floor):
    login_as(floor[1])
    for headers in ({}, HINDI):
        response = client.post("/api/v1/scans/child", headers=headers,
                               json={"parent": "SB00002", "code": "0016587"})
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "child_in_other_parent"
        assert error["other_parent"] == "SB00001"
        if headers:
            assert error["message"] == ("0016587 पहले से SB00001 में है। इसे अलग रखें और "
                                        "सुपरवाइज़र को बताएँ।")
        else:
            assert error["message"] == ("0016587 is already in SB00001. Put it aside and tell "
                                        "a supervisor.")


def test_the_api_says_a_framework_error_in_hindi(client):
    response = client.get("/api/v1/nothing-here", headers=HINDI)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert "पता" in response.get_json()["error"]["message"]


def test_a_hindi_station_flashes_the_form_posts_outcome_in_hindi(client, login_as, make_user):
    login_as(make_user("rekha", "staff", language="hi"))
    client.post("/scan", data={"parent": "", "code": "SB00009"})
    page = client.get("/scan?parent=SB00009").get_data(as_text=True)
    assert "नई बड़ी बोरी SB00009 शुरू। इसकी थैलियाँ स्कैन करें।" in page


def test_numbers_use_indian_grouping_in_hindi_and_en_in(app):
    from flask_babel import refresh

    from app.i18n import number

    for headers, value, expected in ((HINDI, 1234567, "12,34,567"),
                                     ({"Accept-Language": "en-IN"}, 100000, "1,00,000"),
                                     ({"Accept-Language": "en-US,en-IN;q=0.5"}, 100000, "100,000")):
        with app.test_request_context("/", headers=headers):
            refresh()  # as every request does (the app context here outlives each one)
            assert number(value) == expected


def test_the_switch_in_the_navigation_saves_a_users_language(client, login_as, make_user):
    worker = login_as(make_user("rekha", "staff"))
    token = page_csrf_token(client, "/scan")
    response = client.post("/language", data={"language": "hi", "next": "/scan",
                                              "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/scan")
    assert db.session.get(User, worker.id).language == "hi"
    assert '<html lang="hi">' in client.get("/scan").get_data(as_text=True)


def test_the_switch_before_login_lasts_for_the_session_and_refuses_a_foreign_next(client):
    token = page_csrf_token(client, "/login")
    response = client.post("/language", data={"language": "hi", "next": "https://evil.example/",
                                              "csrf_token": token})
    assert response.status_code == 303
    assert "evil" not in response.headers["Location"]
    assert '<html lang="hi">' in client.get("/login").get_data(as_text=True)


def test_the_switch_refuses_an_unknown_language_and_changes_nothing(client):
    token = page_csrf_token(client, "/login")
    client.post("/language", data={"language": "xx", "csrf_token": token})
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_account_sets_language_and_time_zone(client, login_as, make_user):
    worker = login_as(make_user("rekha", "staff"))
    token = page_csrf_token(client, "/account")
    response = client.post("/account/preferences", data={
        "language": "hi", "timezone": "Asia/Kolkata", "csrf_token": token})
    assert response.status_code == 303
    user = db.session.get(User, worker.id)
    assert (user.language, user.timezone) == ("hi", "Asia/Kolkata")
    response = client.post("/account/preferences", data={
        "language": "hi", "timezone": "Mars/Olympus", "csrf_token": token})
    assert response.status_code == 422
    assert db.session.get(User, worker.id).timezone == "Asia/Kolkata"


def test_the_users_api_sets_and_checks_language_and_time_zone(client, login_as, admin, staff):
    login_as(admin)
    response = client.patch(f"/api/v1/users/{staff.username}",
                            json={"language": "hi", "timezone": "Asia/Kolkata"})
    assert response.status_code == 200
    assert (response.get_json()["language"], response.get_json()["timezone"]) == (
        "hi", "Asia/Kolkata")
    for body, code in (({"language": "fr"}, "invalid_language"),
                       ({"language": 5}, "invalid_language"),
                       ({"timezone": "Nowhere/Else"}, "invalid_timezone")):
        response = client.patch(f"/api/v1/users/{staff.username}", json=body)
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == code
    assert db.session.get(User, staff.id).language == "hi"
    response = client.post("/api/v1/users", json={
        "username": "neha", "role": "staff", "password": "a long enough passphrase here",
        "language": "hi", "timezone": None})
    assert response.status_code == 201 and response.get_json()["language"] == "hi"


def test_the_database_refuses_a_language_it_does_not_know(app, make_user):
    from sqlalchemy.exc import IntegrityError

    user = make_user("rekha", "staff")
    user.language = "xx"
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- times: the dashboard for a user in Asia/Kolkata while the server is in UTC ------------

def test_dashboard_today_is_the_sites_and_times_the_users_around_midnight(
        client, login_as, make_user, monkeypatch):
    """23:50 UTC on 4 Dec is 05:20 on 5 Dec in Kolkata. A scan at 18:40 UTC (00:10 in Kolkata,
    5 Dec) and one at 18:20 UTC (23:50 on 4 Dec). Issue 21: "today" is the site's day, for
    every viewer (both today at a site in UTC, one at a site in Kolkata); the times a page
    shows are still in the viewer's own zone."""
    worker = make_user("rekha", "staff")
    kolkata = make_user("mukesh", "supervisor", timezone="Asia/Kolkata")
    utc_user = make_user("sam", "supervisor")
    fill_parent(worker, "SB00001")
    parent = db.session.scalar(select(Bag).where(Bag.code == "SB00001"))
    for code, minute in (("0016586", 20), ("0016587", 40)):  # as the dashboard's own tests
        db.session.add(ScanEvent(user_id=worker.id, action="child_scan", outcome="accepted",
                                 result="linked", code=code, parent_id=parent.id,
                                 created_at=datetime(2026, 12, 4, 18, minute, tzinfo=UTC)))
    db.session.commit()
    now = datetime(2026, 12, 4, 23, 50, tzinfo=UTC)
    monkeypatch.setattr(dashboard, "utcnow", lambda: now)

    login_as(kolkata)
    stats = client.get("/api/v1/dashboard/stats").get_json()
    assert stats["scans"]["today"] == 2  # the site (MAIN) is in UTC: both are its today
    assert stats["generated_at"].endswith("+00:00")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "5 Dec 2026, 05:20" in html  # "updated", on the Kolkata user's own clock
    client.post("/logout")

    db.session.execute(update(Site).where(Site.code == "MAIN").values(timezone="Asia/Kolkata"))
    db.session.commit()
    login_as(utc_user)
    stats = client.get("/api/v1/dashboard/stats").get_json()
    assert stats["scans"]["today"] == 1  # the site's day began at 18:30 UTC
    assert stats["generated_at"].endswith("+05:30")


def test_a_bags_times_are_shown_in_the_users_zone(client, login_as, make_user):
    worker = make_user("rekha", "staff", timezone="Asia/Kolkata")
    fill_parent(worker, "SB00001")
    login_as(worker)
    html = client.get("/bags/SB00001").get_data(as_text=True)
    assert "(IST)" in html  # English: the zone's abbreviation


# --- dispatches, labels and tokens (the features merged after issue 23) ----------------------

@pytest.fixture
def dispatch_floor(app, make_user):
    """A Hindi supervisor with: a dispatch being loaded (one parent on, one refused load in its
    history), one that left short with a parent returned, a reserved label series, and an API
    token. What people typed (places, names, reasons) is typed in Hindi, as a Hindi warehouse
    would."""
    from app.auth import tokens
    from app.dispatch import services as dispatching
    from app.domain import DomainError
    from app.labels import services as labels
    from app.unit_of_work import run
    from tests.dispatch.support import complete_parent, load, new_dispatch
    from tests.helpers import PASSWORD

    boss = make_user("mukesh", "supervisor", language="hi", timezone="Asia/Kolkata")
    for code in ("SB00001", "SB00003", "SB00004"):
        complete_parent(boss, code)
    fill_parent(boss, "SB00002", ["0016586"])  # open: refused on a truck
    new_dispatch(boss, "D000001", expected=3, destination="नागपुर डिपो", driver="रमेश",
                 transporter="तेज़ ट्रांसपोर्ट", reference="B-771")
    load(boss, "D000001", "SB00001")
    try:
        load(boss, "D000001", "SB00002")
    except DomainError as refused:
        dispatching.record_refused_load(boss, "D000001", "SB00002", refused)
        db.session.commit()
    new_dispatch(boss, "D000002", expected=3, destination="रायपुर")
    load(boss, "D000002", "SB00003")
    load(boss, "D000002", "SB00004")
    run(dispatching.dispatch_out, boss, "D000002", "ट्रक भर गया")
    run(dispatching.return_parent, boss, "D000002", "SB00004", "बोरी फटी थी")
    labels.reserve_series(boss, "SB", 24)
    db.session.commit()
    tokens.create_token(boss, "गोदाम रिपोर्ट", ["scan", "bags:read"], 30, PASSWORD)
    db.session.commit()
    return boss


# The API's words on the token page: the header a system sends and the scopes' own names.
TOKEN_PAGE_DATA = {"Authorization", "Bearer", "tt", "ERP", "scan", "bags", "read", "write",
                   "dispatch", "import", "dashboard", "users", "admin"}
DISPATCH_PAGES = {
    "/dispatches": set(), "/dispatches/new": set(),
    "/dispatches/D000001": set(),  # loading: the station, a refused load in the history
    "/dispatches/D000002": set(),  # dispatched short, a parent returned
    "/dashboard": set(),           # the dispatch card
    "/bags/SB00001": set(),        # a parent on a dispatch
    "/account/tokens": TOKEN_PAGE_DATA,
    "/labels": {"single", "SB"},   # a label stock's name (as ?layout= takes it), a prefix
}


@pytest.mark.parametrize("path", DISPATCH_PAGES)
def test_a_hindi_supervisors_dispatch_label_and_token_pages_have_no_english_left(
        client, login_as, dispatch_floor, path):
    login_as(dispatch_floor)
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:300]
    assert '<html lang="hi">' in html
    # A token's prefix is random letters and digits: data, like a code.
    prefixes = set(db.session.scalars(select(ApiToken.prefix)))
    assert english_words(html, DATA | DISPATCH_PAGES[path] | prefixes) == []
    assert re.search(r"[\u0900-\u097F]", html)


def test_a_dispatch_page_in_hindi_says_its_status_history_and_refusal_in_hindi(
        client, login_as, dispatch_floor):
    login_as(dispatch_floor)
    loading = client.get("/dispatches/D000001").get_data(as_text=True)
    assert "लदाई जारी" in loading                      # the status badge
    assert "डिस्पैच पर लोड" in loading                   # the history's action
    assert "बड़ी बोरी पूरी नहीं है।" in loading            # the stored refusal, by its code
    left = client.get("/dispatches/D000002").get_data(as_text=True)
    assert "कम माल के साथ गया: ट्रक भर गया" in left
    assert "बोरी फटी थी" in left


def test_a_refused_load_is_flashed_in_hindi_and_its_code_stays(client, login_as,
                                                                dispatch_floor):
    login_as(dispatch_floor)
    token = page_csrf_token(client, "/dispatches/D000001")
    client.post("/dispatches/D000001/load", data={"load-code": "SB00002", "csrf_token": token})
    page = client.get("/dispatches/D000001").get_data(as_text=True)
    assert "SB00002 पूरी नहीं है (1 / 30)। लोड करने से पहले इसे स्टेशन पर पूरा करें।" in page
    response = client.post("/api/v1/dispatches/D000001/parents", headers=HINDI,
                           json={"code": "SB00002"})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"]) == (409, "parent_not_complete")
    assert error["message"].startswith("SB00002 पूरी नहीं है")


def test_the_dispatch_rules_say_a_nested_word_in_the_requests_language(app):
    """A refusal made of Texts (a status, what cannot be done) is English as a string and
    Hindi, every part of it, when said to a Hindi request."""
    from flask_babel import refresh

    from app.i18n import translate
    from app.rules import bags as rules
    from app.rules import dispatch as dispatch_rules

    state = dispatch_rules.DispatchState("D000009", dispatch_rules.DISPATCHED, 3, 3)
    with pytest.raises(rules.Refusal) as refused:
        dispatch_rules.load(state, "SB00001", None, None)
    assert refused.value.message == ("Dispatch D000009 is dispatched: nothing can be loaded or "
                                     "unloaded. Ask a supervisor to reopen it.")
    parent = rules.BagState(code="SB00001", kind="parent", status="complete", count=30,
                            capacity=30, parent=None, dispatch="D000009")
    with pytest.raises(rules.Refusal) as on_dispatch:
        rules.reopen(rules.Actor(1, "supervisor"), parent)
    with app.test_request_context("/", headers=HINDI):
        refresh()
        assert translate(refused.value.message) == (
            "डिस्पैच D000009 की स्थिति: रवाना। इस पर न कुछ लोड हो सकता है, न उतारा जा सकता "
            "है। सुपरवाइज़र से इसे फिर खुलवाएँ।")
        assert translate(on_dispatch.value.message).startswith(
            "SB00001 डिस्पैच D000009 पर है: इसे फिर नहीं खोला जा सकता।")


# --- the admin's pages: users, the audit log, imports and jobs ------------------------------

@pytest.fixture
def admin_floor(app, client, login_as, make_user):
    """A Hindi admin who made and deactivated a user (the audit log, the user's page), and
    uploaded a supplier file through the page, checked and imported it (the import's and the
    jobs' pages). Returns the admin and the import's id."""
    import io

    import async_handler
    from app.users import services as users

    admin = make_user("sunita", "admin", language="hi", timezone="Asia/Kolkata")
    rekha, _ = users.create_account(admin, "rekha", "staff", PASSWORD_FOR_REKHA, "रेखा")
    db.session.commit()
    users.update_user(admin, rekha, {"is_active": False})
    db.session.commit()

    def run_jobs():
        db.session.commit()
        while async_handler.JobRunner(app).run_once():
            pass
        db.session.expire_all()

    login_as(admin)
    rows = "code,kind,parent_code\r\nSB00001,parent,\r\n" + "".join(
        f"C000{n},child,SB00001\r\n" for n in range(1, 4)) + "C0001,child,SB00009\r\n"
    answer = client.post("/imports", data={"file": (io.BytesIO(rows.encode()), "batch.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:300]
    import_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    run_jobs()
    client.post(f"/imports/{import_id}/confirm")
    run_jobs()
    client.get(f"/imports/{import_id}")  # shows (and so drops) the upload's notices
    return admin, import_id


PASSWORD_FOR_REKHA = "a long enough passphrase here"
# The supplier file's own column names (as its header says them) and the file's name: data.
COLUMNS = {"code", "kind", "parent", "child", "Sr", "No", "Code", "LABEL", "NO", "LOT"}
ADMIN_PAGES = {
    "/users": set(), "/users/rekha": {"rekha"}, "/audit": {"batch", "csv"},
    "/imports": COLUMNS | {"batch", "csv", "xlsx", "MiB"},  # a file extension, a unit "import": COLUMNS | {"batch", "csv"},
    "/jobs": {"batch", "csv"}, "import job": {"batch", "csv"},
}


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_hindi_admins_user_audit_import_and_job_pages_have_no_english_left(
        client, admin_floor, path):
    from app.models.imports import Import

    _, import_id = admin_floor
    record = db.session.get(Import, import_id)
    url = {"import": f"/imports/{import_id}",
           "import job": f"/jobs/{record.import_job_id}"}.get(path, path)
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:300]
    assert '<html lang="hi">' in html
    assert english_words(html, DATA | {"sunita"} | ADMIN_PAGES[path]) == []
    assert re.search(r"[\u0900-\u097F]", html)


def test_a_hindi_admin_reads_the_import_and_the_audit_in_hindi(client, admin_floor):
    _, import_id = admin_floor
    page = client.get(f"/imports/{import_id}").get_data(as_text=True)
    # The plurals (one row, several parents and bags) and the counts of the dry run and import.
    assert ("2 बड़ी बोरियाँ और 3 थैलियाँ बनेंगी, 3 थैलियाँ जुड़ेंगी (0 बड़ी बोरी पूरी होंगी); "
            "0 थैली पहले से जुड़ी; 1 पंक्ति नामंज़ूर।") in page
    assert "2 बड़ी बोरियाँ और 3 थैलियाँ बनीं, 3 थैलियाँ जुड़ीं" in page
    audit = client.get("/audit").get_data(as_text=True)
    assert "यूज़र बंद किया गया" in audit and "फ़ाइल इम्पोर्ट हुई" in audit
    assert "हाँ" in audit and "कर्मचारी" in audit  # is_active: True, role: staff
    assert "सादी तालिका" in audit  # the import's layout
