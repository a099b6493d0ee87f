from flask_wtf import FlaskForm
from wtforms import DateField, StringField, SubmitField
from wtforms.validators import Length, Optional, ValidationError

from app.timeparse import TimeRejected, check_date


class AuditFilterForm(FlaskForm):
    """The /audit filters: a GET form, so no CSRF token and shareable addresses."""

    class Meta:
        csrf = False

    actor = StringField("Who (username)", validators=[Optional(), Length(max=64)],
                        render_kw={"autocapitalize": "none", "spellcheck": "false"})
    action = StringField("Action", validators=[Optional(), Length(max=64)],
                         render_kw={"placeholder": "e.g. user.deactivate",
                                    "list": "audit-actions", "autocapitalize": "none"})
    target = StringField("Target", validators=[Optional(), Length(max=128)],
                         render_kw={"placeholder": "user or bag code",
                                    "autocapitalize": "none"})
    date_from = DateField("From (UTC day)", validators=[Optional()])
    date_to = DateField("To (UTC day)", validators=[Optional()])
    submit = SubmitField("Filter")

    def validate_date_from(self, field):
        _in_range(field)

    def validate_date_to(self, field):
        _in_range(field)
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date. Swap them.")


def _in_range(field) -> None:
    try:
        check_date(field.data, "The date")
    except TimeRejected as error:
        raise ValidationError(error.message) from None
