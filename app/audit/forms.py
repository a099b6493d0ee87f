from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.validators import Length, Optional, ValidationError

from app.timeparse import TimeRejected, check_date
from app.display import ACTION_WORDS
from app.domain import Text
from app.i18n import translate
from app.forms import TranslatedForm


class ListField(SelectField):
    """A list of the actions, in words; an address edited by hand gets a sentence back."""

    def pre_validate(self, form):
        if self.data not in {value for value, _label in self.choices}:
            raise ValidationError(_l("Pick what changed from the list."))


class AuditFilterForm(TranslatedForm):
    """The /audit filters: a GET form, so no CSRF token and shareable addresses."""

    class Meta:
        csrf = False

    actor = StringField(_l("Who (username)"), validators=[Optional(), Length(max=64)],
                        render_kw={"autocapitalize": "none", "spellcheck": "false"})
    action = ListField(_l("What"), choices=[("", _l("Any change")), ("user.", _l("Any change to a user")),
                                       ("bag.", _l("Any bag correction")), ("label.", _l("Any label printing")),
                                       *((key, _l(value)) for key, value in ACTION_WORDS.items())],
                       validators=[Optional()])
    target = StringField(_l("Target"), validators=[Optional(), Length(max=128)],
                         render_kw={"placeholder": _l("user or bag code"),
                                    "autocapitalize": "none"})
    date_from = DateField(_l("From (day)"), validators=[Optional()])
    date_to = DateField(_l("To (day)"), validators=[Optional()])
    submit = SubmitField(_l("Filter"))

    def validate_date_from(self, field):
        _in_range(field)

    def validate_date_to(self, field):
        _in_range(field)
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date. Swap them."))


def _in_range(field) -> None:
    try:
        check_date(field.data, Text("The date"))
    except TimeRejected as error:
        raise ValidationError(translate(error.message)) from None
