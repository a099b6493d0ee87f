from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.forms import TranslatedForm


class LoginForm(TranslatedForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True,
                                      "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()
    submit = SubmitField(_l("Log in"))


class EmptyForm(TranslatedForm):
    """A bare button that posts: logout, undo. Carries only the CSRF token."""

    submit = SubmitField(_l("Submit"))


class SecondFactorForm(TranslatedForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(message=_l("Type the 6-digit code from the app.")),
                                   Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text",
                                  "autofocus": True, "autocapitalize": "none",
                                  "spellcheck": "false"})
    submit = SubmitField(_l("Continue"))


class EnrolForm(TranslatedForm):
    code = StringField(_l("The 6-digit code the app shows now"),
                       validators=[DataRequired(message=_l("Type the 6-digit code from the app.")),
                                   Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "autocapitalize": "none", "spellcheck": "false"})
    submit = SubmitField(_l("Turn on two-factor login"))
