from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True,
                                      "autocapitalize": "none"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()
    submit = SubmitField("Log in")


class EmptyForm(FlaskForm):
    """A bare button that posts: logout, undo. Carries only the CSRF token."""

    submit = SubmitField("Submit")


class SecondFactorForm(FlaskForm):
    code = StringField("Code from your authenticator app, or a recovery code",
                       validators=[DataRequired(message="Type the 6-digit code from the app."),
                                   Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text",
                                  "autofocus": True, "autocapitalize": "none",
                                  "spellcheck": "false"})
    submit = SubmitField("Continue")


class EnrolForm(FlaskForm):
    code = StringField("The 6-digit code the app shows now",
                       validators=[DataRequired(message="Type the 6-digit code from the app."),
                                   Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "autocapitalize": "none", "spellcheck": "false"})
    submit = SubmitField("Turn on two-factor login")
