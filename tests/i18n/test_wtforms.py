"""WTForms' and Flask-WTF's own messages ("This field is required.") in the user's language
(issue 23): WTForms ships no Hindi, so every form (app/forms.py TranslatedForm) looks them up
in our catalog, which holds them because app/i18n_wtforms.py lists them."""

from __future__ import annotations

import re
from pathlib import Path

import flask_wtf
import pytest
import wtforms
from flask_wtf import FlaskForm

from app.forms import TranslatedForm
from app.i18n_wtforms import WTFORMS_MESSAGES
from tests.helpers import page_csrf_token

HINDI = {"Accept-Language": "hi"}
# What the libraries pass through gettext that no reader sees: programming errors (TypeError)
# and Flask-WTF's FileSize, whose message is an f-string made before the lookup.
NOT_SHOWN = {"Choices cannot be None.", "Invalid field name '%s'."}
# WTForms' own session CSRF (wtforms.csrf): Flask-WTF's CSRF field replaces it.
NOT_USED = {"CSRF failed.", "CSRF token expired.", "CSRF token missing.", "Invalid CSRF Token."}


def _gettext_literals(root: Path, names: list[str]) -> set[str]:
    found = set()
    for name in names:
        for path in root.glob(name):
            text = path.read_text()
            for call in re.finditer(r"(?:n?gettext)\(\s*((?:\"[^\"]*\"\s*,?\s*)+)", text):
                found.update(re.findall(r"\"([^\"]*)\"", call.group(1)))
    return {message for message in found if message and not message.startswith("File must")}


def _listed() -> set[str]:
    listed = set()
    for message in WTFORMS_MESSAGES:
        listed.update(message if isinstance(message, tuple) else (message,))
    return listed


def test_every_message_the_libraries_translate_is_listed():
    shown = (_gettext_literals(Path(wtforms.__file__).parent,
                               ["validators.py", "fields/*.py", "csrf/*.py"])
             | _gettext_literals(Path(flask_wtf.__file__).parent, ["file.py"]))
    assert shown, "no gettext call found in wtforms: has its source moved?"
    assert sorted(shown - NOT_SHOWN - NOT_USED - _listed()) == [], "add these to app/i18n_wtforms.py"
    csrf = (Path(flask_wtf.__file__).parent / "csrf.py").read_text()
    csrf_messages = set(re.findall(r"ValidationError\(\"([^\"]+)\"\)", csrf))
    assert csrf_messages and sorted(csrf_messages - _listed()) == []


def test_every_form_of_the_app_is_a_translated_form(app):
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [form for form in subclasses(FlaskForm) if form.__module__.startswith("app.")]
    assert len(ours) > 20
    assert sorted(form.__qualname__ for form in ours
                  if not issubclass(form, TranslatedForm) and form is not TranslatedForm) == []


def _login_errors(client, headers, data) -> str:
    return client.post("/login", data=data, headers=headers).get_data(as_text=True)


def test_a_hindi_user_sees_wtforms_messages_in_hindi_and_an_english_user_in_english(client):
    required = _login_errors(client, HINDI, {"username": "rekha", "password": ""})
    assert "यह भरना ज़रूरी है।" in required
    assert "This field is required." not in required
    too_long = _login_errors(client, HINDI, {"username": "r" * 65, "password": "x"})
    assert "64 अक्षरों से लंबा नहीं हो सकता।" in too_long
    assert "Field cannot be longer" not in too_long

    english = _login_errors(client, {"Accept-Language": "en"},
                            {"username": "rekha", "password": ""})
    assert "This field is required." in english
    assert "Field cannot be longer than 64 characters." in _login_errors(
        client, {}, {"username": "r" * 65, "password": "x"})


def test_a_hindi_admins_date_filter_refusal_is_hindi(client, login_as,
                                                                     make_user):
    login_as(make_user("sunita", "admin", language="hi"))
    html = client.get("/audit?date_from=31-31-2026").get_data(as_text=True)
    assert "तारीख़ सही नहीं है।" in html and "Not a valid date value." not in html


@pytest.mark.parametrize("language, expected", [("hi", "CSRF टोकन नहीं मिला।"),
                                                ("en", "The CSRF token is missing.")])
def test_the_csrf_fields_own_message_follows_the_language(make_app, language, expected):
    """CSRFProtect refuses first (its own page, translated in app/errors.py); the form's own
    CSRF check speaks when a form is validated without it, as here."""
    application = make_app(WTF_CSRF_ENABLED=True)
    from app.auth.forms import LoginForm

    with application.test_request_context("/login", method="POST", data={
            "username": "rekha", "password": "x"}, headers={"Accept-Language": language}):
        form = LoginForm()
        assert not form.validate()
        assert form.csrf_token.errors == [expected]


def test_the_csrf_token_still_works_for_a_hindi_user(make_app):
    application = make_app(WTF_CSRF_ENABLED=True)
    client = application.test_client()
    token = page_csrf_token(client, "/login")
    response = client.post("/login", headers=HINDI, data={
        "username": "nobody", "password": "wrong", "csrf_token": token})
    assert response.status_code != 400
