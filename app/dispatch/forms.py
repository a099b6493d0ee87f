"""The dispatch pages' forms. The service checks and cleans every value (for the pages and the
API alike); these forms carry the CSRF token and render the fields."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length
from flask_babel import lazy_gettext as _l

CODE_INPUT = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}


def _reason_field(placeholder: str = "Why? (kept with the dispatch's history)"):
    return StringField("Reason", validators=[Length(max=300)],
                       render_kw={"autocomplete": "off", "maxlength": 300,
                                  "placeholder": placeholder})


class DispatchFilterForm(FlaskForm):
    """The list's filters: a GET form, no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField("Code, vehicle or destination", validators=[Length(max=64)],
                    render_kw=CODE_INPUT)
    status = SelectField("Status", validate_choice=False, choices=[
        SelectChoice("", "Any status"), SelectChoice("loading", "Loading"),
        SelectChoice("dispatched", "Dispatched"), SelectChoice("cancelled", "Cancelled")])
    submit = SubmitField("Filter")


class NewDispatchForm(FlaskForm):
    vehicle_number = StringField("Vehicle number", render_kw={**CODE_INPUT,
                                                              "placeholder": "MH12AB1234"})
    destination = StringField("Destination", render_kw={"autocomplete": "off"})
    expected_parents = StringField("Parents expected", render_kw={
        "type": "number", "min": 1, "max": 500, "inputmode": "numeric"})
    code = StringField("Bill code (leave empty to have one made)", render_kw={
        **CODE_INPUT, "placeholder": "D000123"})
    driver = StringField("Driver", render_kw={"autocomplete": "off"})
    transporter = StringField("Transporter", render_kw={"autocomplete": "off"})
    reference = StringField("Reference (LR or invoice number)", render_kw={"autocomplete": "off"})
    submit = SubmitField("Open the dispatch")


class LoadForm(FlaskForm):
    code = StringField("Scan a parent", render_kw={**CODE_INPUT, "maxlength": 256})
    submit = SubmitField("Load")


class UnloadForm(FlaskForm):
    code = StringField("Parent")
    submit = SubmitField("Unload")


class SendForm(FlaskForm):
    reason = _reason_field("Why it leaves short (only when it does)")
    submit = SubmitField("Dispatch")


class ReopenForm(FlaskForm):
    reason = _reason_field()
    submit = SubmitField("Reopen for loading")


class CancelForm(FlaskForm):
    reason = _reason_field()
    submit = SubmitField("Cancel this dispatch")


class ReturnForm(FlaskForm):
    parent = StringField("Parent that came back", render_kw={**CODE_INPUT,
                                                             "placeholder": "SB00001"})
    reason = _reason_field()
    submit = SubmitField("Take the return")


class ReceiveForm(FlaskForm):
    """A transfer's parent scanned as it comes off the truck (issue 21)."""

    code = StringField(_l("Scan a parent as it comes off"),
                       render_kw={**CODE_INPUT, "maxlength": 256, "autofocus": True})
    submit = SubmitField(_l("Receive"))
