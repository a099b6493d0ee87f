from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, PasswordField, SelectMultipleField, StringField, SubmitField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from app.auth.passwords import MAX_LENGTH
from app.auth.tokens import DEFAULT_DAYS, MAX_DAYS, NAME_MAX
from app.domain import N_
from app.forms import TranslatedForm

# What each scope lets a token do, in the words of the page (DESIGN 8.7); translated where
# shown. The scope's own name (scan, bags:read) is what the API says: it stays as it is.
SCOPE_LABELS = {
    "scan": N_("Scan bags: parents, children, batches, undo, finish"),
    "bags:read": N_("Look bags up"),
    "bags:write": N_("Correct bags (reopen, move, unlink, delete) and print labels"),
    "dispatch": N_("Load and send dispatches"),
    "import": N_("Import files of bags"),
    "dashboard:read": N_("Read the dashboard's figures"),
    "users:admin": N_("Manage users and sites"),
}


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TokenForm(TranslatedForm):
    name = StringField(_l("Name"), validators=[InputRequired(_l("Give the token a name.")),
                                               Length(max=NAME_MAX)],
                       render_kw={"placeholder": _l("e.g. ERP dispatch sync"),
                                  "autocomplete": "off"})
    # Checked by the service, which says in plain words which scope the role may not give.
    scopes = CheckboxesField(_l("What it may do"), choices=[], validate_choice=False)
    expires_in_days = IntegerField(
        _l("Days until it expires (1 to %(most)s)", most=MAX_DAYS), default=DEFAULT_DAYS,
        validators=[InputRequired(_l("Say how many days the token lasts.")),
                    # NumberRange fills in %(min)s and %(max)s itself.
                    NumberRange(1, MAX_DAYS, _l("A token lasts %(min)s to %(max)s days."))],
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_DAYS})
    current_password = PasswordField(
        _l("Your current password"), validators=[InputRequired(_l("Type your password.")),
                                                 Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"})
    # Issue 21: the sites it may work in (none ticked: every site its user works in).
    sites = CheckboxesField(_l("Sites it may work in (none ticked: all of yours)"), choices=[],
                            validate_choice=False)
    submit = SubmitField(_l("Make the token"))

    def offer(self, scopes: tuple[str, ...], sites: list[str] = ()) -> "TokenForm":
        """Only the scopes the user's role allows today are offered (and accepted), and the
        user's own sites."""
        self.scopes.choices = [SelectChoice(scope, f"{scope}: {gettext(SCOPE_LABELS[scope])}"
                                            if scope in SCOPE_LABELS else scope)
                               for scope in scopes]
        self.sites.choices = [SelectChoice(code, code) for code in sites]
        return self


class RevokeForm(TranslatedForm):
    """A bare button: posts its CSRF token only."""

    submit = SubmitField(_l("Revoke"))
