from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from flask_babel import lazy_gettext as _l

from app.auth.passwords import MAX_LENGTH
from app.i18n import LANGUAGES
from app.models import ROLES
from app.forms import TranslatedForm

ROLE_LABELS = {"staff": _l("Staff"), "supervisor": _l("Supervisor"), "admin": _l("Admin")}
ROLE_CHOICES = [SelectChoice(role, ROLE_LABELS.get(role, role.capitalize())) for role in ROLES]


class UserFilterForm(TranslatedForm):
    """The /users list filters: a GET form, so no CSRF token and shareable addresses."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=120)],
                    render_kw={"placeholder": _l("username or name"), "autocapitalize": "none"})
    role = SelectField(_l("Role"), choices=[SelectChoice("", _l("Any role")), *ROLE_CHOICES],
                       validate_choice=False)
    active = SelectField(_l("Status"), choices=[SelectChoice("", _l("Any status")),
                                            SelectChoice("yes", _l("Active")),
                                            SelectChoice("no", _l("Inactive"))],
                         validate_choice=False)
    submit = SubmitField(_l("Filter"))


def _generate_field() -> BooleanField:
    return BooleanField(_l("Generate a password and show it once"), default=True)


def _password_field() -> PasswordField:
    return PasswordField(_l("Password (leave empty when generating)"),
                         validators=[Optional(), Length(max=MAX_LENGTH)],
                         render_kw={"autocomplete": "new-password"})


def password_choice_is_clear(form) -> bool:
    """Either a password typed by the admin, or one generated and shown once; when the
    form asks for neither or both, the password field says what to do and this is False."""
    if form.generate.data and form.password.data:
        form.password.errors.append(_l("Leave the password empty when generating one, "
                                    "or untick Generate to use the password you typed."))
        return False
    if not form.generate.data and not form.password.data:
        form.password.errors.append(_l("Type a password, or tick Generate."))
        return False
    return True


class CreateUserForm(TranslatedForm):
    username = StringField(_l("Username"), validators=[DataRequired(message=_l("Type a username.")),
                                                   Length(max=64)],
                           render_kw={"autocapitalize": "none", "autocomplete": "off",
                                      "spellcheck": "false"})
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="staff")
    generate = _generate_field()
    password = _password_field()
    submit = SubmitField(_l("Create user"))


class EditUserForm(TranslatedForm):
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    submit = SubmitField(_l("Save changes"))


class ResetPasswordForm(TranslatedForm):
    generate = _generate_field()
    password = _password_field()
    submit = SubmitField(_l("Reset password"))


class DeactivateForm(TranslatedForm):
    submit = SubmitField(_l("Deactivate"))


class ReactivateForm(TranslatedForm):
    submit = SubmitField(_l("Reactivate"))


class EndSessionsForm(TranslatedForm):
    submit = SubmitField(_l("Log out everywhere"))


class ResetTwoFactorForm(TranslatedForm):
    submit = SubmitField(_l("Reset second factor"))


class ChangePasswordForm(TranslatedForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(message=_l("Type your current password.")),
                                        Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[DataRequired(message=_l("Type a new password.")),
                                    Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(_l("New password again"), validators=[
            DataRequired(message=_l("Type the new password a second time.")),
            EqualTo("new_password", message=_l("The two new passwords differ. Type them again."))],
        render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Change password"))


def _language_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("As the browser asks")),
            *(SelectChoice(code, name) for code, name in LANGUAGES.items())]


TIMEZONE_CHOICES = ("Asia/Kolkata", "Asia/Dubai", "Asia/Kathmandu", "Asia/Dhaka",
                    "Asia/Singapore", "Europe/London", "UTC")


class PreferencesForm(TranslatedForm):
    """A user's own language and time zone (issue 23)."""

    language = SelectField(_l("Language"), validate_choice=False)
    timezone = SelectField(_l("Time zone"), validate_choice=False)
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = _language_choices()
        zones = list(TIMEZONE_CHOICES)
        if self.timezone.data and self.timezone.data not in zones:
            zones.append(self.timezone.data)
        self.timezone.choices = [SelectChoice("", _l("The warehouse's")),
                                 *(SelectChoice(zone, zone) for zone in zones)]
