from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from app.auth.passwords import MAX_LENGTH
from app.models import ROLES

ROLE_CHOICES = [SelectChoice(role, role.capitalize()) for role in ROLES]


class UserFilterForm(FlaskForm):
    """The /users list filters: a GET form, so no CSRF token and shareable addresses."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=120)],
                    render_kw={"placeholder": "username or name", "autocapitalize": "none"})
    role = SelectField("Role", choices=[SelectChoice("", "Any role"), *ROLE_CHOICES],
                       validate_choice=False)
    active = SelectField("Status", choices=[SelectChoice("", "Any status"),
                                            SelectChoice("yes", "Active"),
                                            SelectChoice("no", "Inactive")],
                         validate_choice=False)
    submit = SubmitField("Filter")


def _generate_field() -> BooleanField:
    return BooleanField("Generate a password and show it once", default=True)


def _password_field() -> PasswordField:
    return PasswordField("Password (leave empty when generating)",
                         validators=[Optional(), Length(max=MAX_LENGTH)],
                         render_kw={"autocomplete": "new-password"})


def password_choice_is_clear(form) -> bool:
    """Either a password typed by the admin, or one generated and shown once; when the
    form asks for neither or both, the password field says what to do and this is False."""
    if form.generate.data and form.password.data:
        form.password.errors.append("Leave the password empty when generating one, "
                                    "or untick Generate to use the password you typed.")
        return False
    if not form.generate.data and not form.password.data:
        form.password.errors.append("Type a password, or tick Generate.")
        return False
    return True


class CreateUserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(message="Type a username."),
                                                   Length(max=64)],
                           render_kw={"autocapitalize": "none", "autocomplete": "off",
                                      "spellcheck": "false"})
    display_name = StringField("Display name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="staff")
    generate = _generate_field()
    password = _password_field()
    submit = SubmitField("Create user")


class EditUserForm(FlaskForm):
    display_name = StringField("Display name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    submit = SubmitField("Save changes")


class ResetPasswordForm(FlaskForm):
    generate = _generate_field()
    password = _password_field()
    submit = SubmitField("Reset password")


class DeactivateForm(FlaskForm):
    submit = SubmitField("Deactivate")


class ReactivateForm(FlaskForm):
    submit = SubmitField("Reactivate")


class EndSessionsForm(FlaskForm):
    submit = SubmitField("Log out everywhere")


class ResetTwoFactorForm(FlaskForm):
    submit = SubmitField("Reset second factor")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(message="Type your current password."),
                                        Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(
        "New password", validators=[DataRequired(message="Type a new password."),
                                    Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(
        "New password again", validators=[
            DataRequired(message="Type the new password a second time."),
            EqualTo("new_password", message="The two new passwords differ. Type them again.")],
        render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Change password")
